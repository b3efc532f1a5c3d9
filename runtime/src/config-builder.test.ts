import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshSpec, sidecarConfigSchema, type MeshSpec } from '@meshlet/wire';
import { buildSidecarConfig, faultKey, type ConfigContext, type PodView } from './config-builder.ts';

function spec(text: string): MeshSpec {
  const r = parseMeshSpec(text);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

const s = spec(`
name: shop
test_mode: true
services:
  gateway: { command: node g.js, port: 8080 }
  rpc: { command: node r.js, port: 50051, protocol: h2c }
  payments:
    command: node p.js
    port: 9000
    timeout: 2s
    retries: { attempts: 3, on: [connect_refused, app_error], per_try_timeout: 500ms }
    policy: { deny: [gateway], rate_limit: { rps: 50 } }
    faults:
      - { name: slow, delay: { duration: 300ms, percent: 50 } }
      - { abort: { status: 503 }, enabled: false, match: { path_prefix: /pay } }
    routes:
      - { match: { path_prefix: /refund, method: POST }, timeout: 5s, retries: { attempts: 1, retryable: true } }
  catalog:
    command: node c.js
    port: 7000
    versions: { blue: {}, green: {} }
    traffic: { blue: 100, green: 0 }
`);

const pods: PodView[] = [
  { name: 'gateway-1', service: 'gateway', version: undefined, ip: '10.77.0.2', ready: true },
  { name: 'payments-1', service: 'payments', version: undefined, ip: '10.77.0.3', ready: true },
  { name: 'payments-2', service: 'payments', version: undefined, ip: '10.77.0.4', ready: false },
  { name: 'catalog-blue-1', service: 'catalog', version: 'blue', ip: '10.77.0.5', ready: true },
  { name: 'catalog-green-1', service: 'catalog', version: 'green', ip: '10.77.0.6', ready: true },
  { name: 'rpc-1', service: 'rpc', version: undefined, ip: '10.77.0.7', ready: true },
];
const ctx: ConfigContext = { spec: s, pods, vips: { gateway: '10.78.0.3', payments: '10.78.0.2', catalog: '10.78.0.1', rpc: '10.78.0.4' }, overrides: { traffic: {}, faults: {} }, collectorUrl: 'http://10.77.0.1:4318', isolation: 'netns' };

test('a netns pod: listeners, app, collector and every destination with endpoints and readiness', () => {
  const c = buildSidecarConfig(ctx, pods[0] as PodView);
  assert.deepEqual(c.listen, { inbound: '0.0.0.0:15006', outbound: '127.0.0.1:15001', admin: '0.0.0.0:15000' });
  assert.equal(c.app, '127.0.0.1:8080');
  assert.equal(c.appProtocol, 'http');
  assert.equal(c.collector, 'http://10.77.0.1:4318');
  assert.equal(c.testMode, true);
  assert.equal(c.pod, 'gateway-1');
  const pay = c.destinations['payments'];
  assert.ok(pay);
  assert.equal(pay.vip, '10.78.0.2');
  assert.equal(pay.port, 9000);
  assert.deepEqual(pay.endpoints, [
    { address: '10.77.0.3:15006', pod: 'payments-1', ready: true },
    { address: '10.77.0.4:15006', pod: 'payments-2', ready: false },
  ]);
  assert.equal(pay.timeoutMs, 2000);
  assert.deepEqual(pay.retry, { maxRetries: 3, retryOn: ['connect_refused', 'app_error'], retryNonIdempotent: false, perTryTimeoutMs: 500 });
  assert.equal(pay.routes[0]?.name, 'route-1');
  assert.deepEqual(pay.routes[0]?.match, { pathPrefix: '/refund', method: 'POST' });
  assert.equal(pay.routes[0]?.retry?.retryNonIdempotent, true);
  // Only enabled faults are sent; the switched-off one stays out.
  assert.deepEqual(pay.faults, [{ name: 'slow', delay: { ms: 300, percent: 50 } }]);
  assert.deepEqual(c.destinations['catalog']?.traffic, { blue: 100, green: 0 });
  assert.equal(c.destinations['catalog']?.endpoints[1]?.version, 'green');
  assert.ok(sidecarConfigSchema.safeParse(c).success);
});

test('an h2c service (gRPC) is reached by its sidecar over h2c', () => {
  const c = buildSidecarConfig(ctx, pods.find((p) => p.service === 'rpc') as PodView);
  assert.equal(c.service, 'rpc');
  assert.equal(c.app, '127.0.0.1:50051');
  assert.equal(c.appProtocol, 'h2c');
});

test("the callee's policy goes on its inbound side", () => {
  const c = buildSidecarConfig(ctx, pods[1] as PodView);
  assert.deepEqual(c.inbound.deny, ['gateway']);
  assert.deepEqual(c.inbound.rateLimit, { rps: 50, burst: 50 });
});

test('run-time traffic weights and fault switches override the spec', () => {
  const live = { ...ctx, overrides: { traffic: { catalog: { blue: 10, green: 90 } }, faults: { payments: { slow: false, 'fault-2': true } } } };
  const c = buildSidecarConfig(live, pods[0] as PodView);
  assert.deepEqual(c.destinations['catalog']?.traffic, { blue: 10, green: 90 });
  assert.deepEqual(c.destinations['payments']?.faults, [{ name: 'fault-2', match: { pathPrefix: '/pay' }, abort: { status: 503, percent: 100 } }]);
  assert.equal(faultKey({ name: undefined, match: undefined, enabled: true, delay: undefined, abort: undefined }, 4), 'fault-5');
});

test('process isolation: everything on the pod address, no VIPs', () => {
  const c = buildSidecarConfig({ ...ctx, isolation: 'process' }, { ...(pods[0] as PodView), ip: '127.77.0.2' });
  assert.deepEqual(c.listen, { inbound: '127.77.0.2:15006', outbound: '127.77.0.2:15001', admin: '127.77.0.2:15000' });
  assert.equal(c.app, '127.77.0.2:8080');
  assert.equal(c.destinations['payments']?.vip, undefined);
});

test('mtls: every pod gets its own leaf and the mesh CA as tls; destinations carry their SPIFFE ids', () => {
  const m = { ...s, mtls: true };
  const leaves = new Map(pods.map((p) => [p.name, { certPem: `cert of ${p.name}`, keyPem: `key of ${p.name}`, identity: `spiffe://shop/svc/${p.service}` }]));
  const c = buildSidecarConfig({ ...ctx, spec: m, tls: { caPem: 'the CA', leaves } }, pods[1] as PodView);
  assert.deepEqual(c.tls, { certPem: 'cert of payments-1', keyPem: 'key of payments-1', caPem: 'the CA', identity: 'spiffe://shop/svc/payments' });
  assert.equal(c.destinations['catalog']?.identity, 'spiffe://shop/svc/catalog');
  // The caller policy is by service name; the sidecar matches it against the caller's verified SPIFFE id.
  assert.deepEqual(c.inbound.deny, ['gateway']);
  // Without mtls there is no tls, even when leaves are around.
  assert.equal(buildSidecarConfig({ ...ctx, tls: { caPem: 'the CA', leaves } }, pods[1] as PodView).tls, null);
  // A pod of an mTLS mesh without a leaf is a bug: it fails loudly instead of serving plain HTTP.
  assert.throws(() => buildSidecarConfig({ ...ctx, spec: m, tls: { caPem: 'the CA', leaves: new Map() } }, pods[1] as PodView), /payments-1 has no certificate/);
});
