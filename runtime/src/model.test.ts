import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshSpec, type MeshSpec } from '@meshlet/wire';
import { desiredPods, podTemplate, replicasOf, serviceOrder } from './model.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import { hostsFile } from './hosts-file.ts';

function spec(text: string): MeshSpec {
  const r = parseMeshSpec(text);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

const shop = spec(`
name: shop
services:
  gateway:
    command: node gateway.js
    port: 8080
    depends_on: { catalog: { condition: healthy } }
    env: { A: "1" }
  catalog:
    command: ["node", "catalog.js"]
    working_dir: catalog
    port: 9000
    health: { http: /healthz }
    env: { A: "base", B: "b" }
    versions:
      blue: { replicas: 2 }
      green: { env: { A: "green" }, command: ["node", "green.js"] }
    replicas: 1
`);

test('pods per replica and per version, in dependency order', () => {
  const pods = desiredPods(shop, '/srv/shop');
  assert.deepEqual(
    pods.map((p) => p.name),
    ['catalog-blue-1', 'catalog-blue-2', 'catalog-green-1', 'gateway-1'],
  );
  assert.deepEqual(serviceOrder(shop), ['catalog', 'gateway']);
});

test('versions inherit from the service and override it', () => {
  const green = podTemplate(shop, '/srv/shop', 'catalog', 'green');
  assert.deepEqual(green.command, ['node', 'green.js']);
  assert.equal(green.workingDir, '/srv/shop/catalog');
  assert.deepEqual(green.env, { A: 'green', B: 'b' });
  const gateway = podTemplate(shop, '/srv/shop', 'gateway', undefined);
  assert.equal(gateway.workingDir, '/srv/shop');
  assert.deepEqual(gateway.command, ['node', 'gateway.js']);
});

test('scale overrides win over the spec', () => {
  assert.equal(replicasOf(shop, {}, 'catalog', 'blue'), 2);
  assert.equal(replicasOf(shop, { catalog: { replicas: 3 } }, 'catalog', 'blue'), 3);
  assert.equal(replicasOf(shop, { catalog: { versions: { green: 0 } } }, 'catalog', 'green'), 0);
  assert.deepEqual(
    desiredPods(shop, '/x', { catalog: { versions: { blue: 1, green: 2 } }, gateway: { replicas: 0 } }).map((p) => p.name),
    ['catalog-blue-1', 'catalog-green-1', 'catalog-green-2'],
  );
});

test('an image service is refused with a clear error (images are a separate feature)', () => {
  const s = spec('services:\n  web:\n    image: nginx:1.27\n');
  assert.throws(() => desiredPods(s, '/x'), (err: unknown) => err instanceof RuntimeError && err.code === ERROR_CODES.unsupported && /images are not supported/.test(err.message));
});

test('hosts file maps every service to its VIP', () => {
  const text = hostsFile({ pod: 'gateway-1', podIp: '10.77.0.4', mesh: 'shop', vips: { gateway: '10.78.0.2', catalog: '10.78.0.1' } });
  assert.equal(text, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.77.0.4\tgateway-1\n10.78.0.1\tcatalog catalog.shop\n10.78.0.2\tgateway gateway.shop\n');
});

test('two ways to the same pod name are refused', () => {
  const s = spec('services:\n  catalog:\n    command: node c.js\n    versions: { blue: {} }\n  catalog-blue:\n    command: node b.js\n');
  assert.throws(() => desiredPods(s, '/x'), (err: unknown) => err instanceof RuntimeError && err.code === ERROR_CODES.spec && err.message === 'pod name catalog-blue-1 is used by both version blue of catalog and service catalog-blue');
});
