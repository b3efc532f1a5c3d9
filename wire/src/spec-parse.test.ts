import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpecProblems, parseMeshSpec } from './spec-parse.ts';

const good = `
name: shop
network: {egress: nat}
test_mode: true
services:
  gateway:
    command: node gateway.js
    working_dir: ./gateway
    port: 8080
    publish: ["8080:8080"]
    depends_on:
      catalog: {condition: healthy}
    env: {LOG_LEVEL: info, WORKERS: 2}
  catalog:
    image: shop/catalog
    port: 8080
    replicas: 2
    resources: {cpus: 0.5, memory: 128Mi, pids: 64}
    health: {http: /healthz, interval: 1s}
    restart: on-failure:3
    versions:
      blue: {env: [COLOR=blue]}
      green: {env: [COLOR=green], replicas: 1}
    traffic: {blue: 90, green: 10}
    routes:
      - name: search
        match: {path_prefix: /search, headers: {X-User: beta}}
        timeout: 500ms
        retries: {attempts: 3, per_try_timeout: 200ms}
        traffic: {green: 100}
    faults:
      - abort: {status: 503, percent: 10}
        enabled: false
    timeout: 2s
    policy: {allow: [gateway]}
`;

test('a valid spec parses into milliseconds, bytes and camelCase', () => {
  const result = parseMeshSpec(good);
  assert.ok(result.ok, result.ok ? '' : formatSpecProblems(result.problems, 'mesh.yaml'));
  const { spec } = result;
  assert.equal(spec.name, 'shop');
  assert.equal(spec.network.egress, 'nat');
  assert.equal(spec.network.bridge, 'meshlet0');
  assert.equal(spec.testMode, true);
  const gateway = spec.services['gateway'];
  const catalog = spec.services['catalog'];
  assert.ok(gateway && catalog);
  assert.deepEqual(gateway.command, ['node', 'gateway.js']);
  assert.deepEqual(gateway.publish, [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 8080 }]);
  assert.deepEqual(gateway.dependsOn, { catalog: 'healthy' });
  assert.deepEqual(gateway.env, { LOG_LEVEL: 'info', WORKERS: '2' });
  assert.deepEqual(catalog.resources, { cpus: 0.5, memoryBytes: 128 * 1024 * 1024, pids: 64 });
  assert.equal(catalog.health?.intervalMs, 1000);
  assert.equal(catalog.health?.retries, 3);
  assert.deepEqual(catalog.restart, { policy: 'on-failure', maxRetries: 3 });
  assert.deepEqual(catalog.versions?.['blue']?.env, { COLOR: 'blue' });
  assert.equal(catalog.routes[0]?.timeoutMs, 500);
  assert.deepEqual(catalog.routes[0]?.match.headers, { 'x-user': 'beta' });
  assert.equal(catalog.routes[0]?.retries?.perTryTimeoutMs, 200);
  assert.equal(catalog.faults[0]?.enabled, false);
  assert.equal(catalog.timeoutMs, 2000);
  assert.ok(Object.isFrozen(spec) && Object.isFrozen(catalog.routes), 'parsed spec is frozen');
});

test('a malformed spec reports every problem with its field path and line', () => {
  const text = [
    'services:', //                                   1
    '  gateway:', //                                  2
    '    command: [node, gateway.js]', //             3
    '    port: 8080', //                              4
    '    depends_on: [payments, nosuch]', //          5
    '  payments:', //                                 6
    '    command: node payments.js', //               7
    '    port: abc', //                               8
    '    replica: 2', //                              9
    '    resources: {memory: lots}', //               10
    '    restart: sometimes', //                      11
    '    traffic: {blue: 50, green: 50}', //          12
    '    versions: {blue: {env: {COLOR: blue}}}', //  13
    '  cart: {}', //                                  14
  ].join('\n');
  const result = parseMeshSpec(text);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const found = result.problems.map((p) => `${p.path}@${p.line}`);
  assert.deepEqual(found, [
    'services.gateway.depends_on.1@5',
    'services.payments.port@8',
    'services.payments.replica@9',
    'services.payments.resources.memory@10',
    'services.payments.restart@11',
    'services.payments.traffic.green@12',
    'services.cart@14',
  ]);
  const text2 = formatSpecProblems(result.problems, 'mesh.yaml');
  assert.match(text2, /^services\.payments\.port: expected a number, got "abc" \(mesh\.yaml:8\)$/m);
  assert.match(text2, /unknown field "replica" \(did you mean "replicas"\?\) \(mesh\.yaml:9\)/);
  assert.match(text2, /depends on unknown service "nosuch"/);
});

test('YAML syntax errors and duplicate keys are placed on their line', () => {
  const result = parseMeshSpec('services:\n  web:\n    port: 80\n    port: 81\n');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.problems[0]?.line, 4);
  assert.match(result.problems[0]?.message ?? '', /^YAML: /);

  const broken = parseMeshSpec('services:\n  web: [unclosed\n');
  assert.equal(broken.ok, false);
});

test('an empty file and a missing services key say what is expected', () => {
  const empty = parseMeshSpec('');
  assert.equal(empty.ok, false);
  if (!empty.ok) assert.match(empty.problems[0]?.message ?? '', /services/);
  const none = parseMeshSpec('name: x\n');
  assert.equal(none.ok, false);
  if (!none.ok) assert.deepEqual(none.problems.map((p) => p.path), ['services']);
});

test('dependency cycles, self-dependencies and healthy conditions without health checks are reported', () => {
  const result = parseMeshSpec(`
services:
  a: {command: x, depends_on: [b]}
  b: {command: x, depends_on: {c: {condition: healthy}}}
  c: {command: x, depends_on: [a, c]}
`);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const messages = result.problems.map((p) => p.message).join('\n');
  assert.match(messages, /dependency cycle: a → b → c → a/);
  assert.match(messages, /cannot depend on itself/);
  assert.match(messages, /condition "healthy" needs a health check on "c"/);
});

test('clashing published host ports and unknown policy callers are reported', () => {
  const result = parseMeshSpec(`
services:
  a: {command: x, port: 80, publish: ["8080:80"]}
  b: {command: x, port: 80, publish: ["127.0.0.1:8080:80"], policy: {allow: [zed]}}
  c: {command: x, publish: ["9000"]}
`);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const byPath = Object.fromEntries(result.problems.map((p) => [p.path, p.message]));
  assert.match(byPath['services.b.publish.0'] ?? '', /already published by services\.a/);
  assert.match(byPath['services.b.policy.allow.0'] ?? '', /unknown service "zed"/);
  assert.match(byPath['services.c.publish'] ?? '', /needs the service to have a port/);
});

test('names must be DNS labels', () => {
  const result = parseMeshSpec('services:\n  Payments_Svc: {command: x}\n');
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.problems[0]?.message ?? '', /lowercase letters/);
});

test('protocol: http by default, h2c for HTTP/2 cleartext apps; h2c needs a port and no HTTP/1.1 health probe', () => {
  const ok = parseMeshSpec('services:\n  a: {command: x, port: 80}\n  g: {command: x, port: 50051, protocol: h2c, health: {command: [grpc-health]}}\n');
  assert.equal(ok.ok, true);
  if (ok.ok) {
    assert.equal(ok.spec.services['a']?.protocol, 'http');
    assert.equal(ok.spec.services['g']?.protocol, 'h2c');
  }
  const bad = parseMeshSpec('services:\n  a: {command: x, protocol: h2c}\n  b: {command: x, port: 1, protocol: h2c, health: {http: /healthz}}\n  c: {command: x, port: 1, protocol: grpc}\n');
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  const byPath = Object.fromEntries(bad.problems.map((p) => [p.path, p.message]));
  assert.match(byPath['services.a.protocol'] ?? '', /needs the service to have a port/);
  assert.match(byPath['services.b.health.http'] ?? '', /use health\.command/);
  assert.match(byPath['services.c.protocol'] ?? '', /http|h2c/);
});
