import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAction, type ActionDeps } from './actions.ts';
import { createHost } from './host.ts';
import { parseMeshSpec } from '@meshlet/wire';
import { caPaths, certFacts, checkLeaf, ecKeyArgv, issueLeaf, leafKeyAndCsrArgv, leafSignArgv, mtlsSpecProblems, pemBlocks, planMeshCa, renewAtMs, sanUris } from './mesh-ca.ts';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version']);
    return false;
  } catch {
    return 'needs the openssl CLI (scripts/deps.sh installs it)';
  }
})();

test('the CA step: a 0700 directory, an EC P-256 key, a self-signed CA; undo removes the directory', () => {
  const step = planMeshCa({ mesh: 'shop', meshDir: '/run/meshlet/shop' });
  assert.equal(step.id, 'mesh/ca');
  assert.deepEqual(step.undo, [{ op: 'remove', path: '/run/meshlet/shop/ca' }]);
  assert.deepEqual(step.do.slice(0, 4), [
    { op: 'mkdir', path: '/run/meshlet/shop/ca' },
    { op: 'exec', argv: ['chmod', '0700', '/run/meshlet/shop/ca'] },
    { op: 'exec', argv: ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', '/run/meshlet/shop/ca/ca.key'] },
    { op: 'exec', argv: ['chmod', '0600', '/run/meshlet/shop/ca/ca.key'] },
  ]);
  const req = step.do[4];
  assert.ok(req?.op === 'exec');
  assert.deepEqual(req.argv.slice(0, 3), ['openssl', 'req', '-x509']);
  assert.ok(req.argv.includes('basicConstraints=critical,CA:TRUE,pathlen:0'));
  assert.equal(req.argv.at(-1), '/run/meshlet/shop/ca/ca.crt');
});

test('leaf argv: key and CSR to stdout, exactly one SPIFFE URI SAN, signed by the CA for a day', () => {
  assert.deepEqual(ecKeyArgv(), ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const csr = leafKeyAndCsrArgv({ mesh: 'shop', service: 'payments', pod: 'payments-2' });
  assert.deepEqual(csr.filter((a) => a.startsWith('subjectAltName=')), ['subjectAltName=URI:spiffe://shop/svc/payments']);
  assert.deepEqual(csr.slice(csr.indexOf('-keyout'), csr.indexOf('-keyout') + 2), ['-keyout', '-']);
  assert.ok(!csr.some((a) => a.startsWith('/dev/')));
  const sign = leafSignArgv(caPaths('/s/shop'));
  assert.deepEqual(sign.slice(sign.indexOf('-CA'), sign.indexOf('-CA') + 4), ['-CA', '/s/shop/ca/ca.crt', '-CAkey', '/s/shop/ca/ca.key']);
  assert.deepEqual(sign.slice(sign.indexOf('-days'), sign.indexOf('-days') + 2), ['-days', '1']);
});

test('PEM blocks by label, first of each kind, each ending in a newline', () => {
  const text = '-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\nnoise\n-----BEGIN CERTIFICATE REQUEST-----\nBBB\nCCC\n-----END CERTIFICATE REQUEST-----';
  const blocks = pemBlocks(text);
  assert.deepEqual([...blocks.keys()], ['PRIVATE KEY', 'CERTIFICATE REQUEST']);
  assert.equal(blocks.get('PRIVATE KEY'), '-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n');
  assert.equal(blocks.get('CERTIFICATE REQUEST'), '-----BEGIN CERTIFICATE REQUEST-----\nBBB\nCCC\n-----END CERTIFICATE REQUEST-----\n');
  // A block whose END label differs is not a block.
  assert.equal(pemBlocks('-----BEGIN A-----\nx\n-----END B-----\n').size, 0);
});

test('SAN parsing and the renewal point', () => {
  assert.deepEqual(sanUris('URI:spiffe://m/svc/a, DNS:x.example, URI:https://y'), ['spiffe://m/svc/a', 'https://y']);
  assert.deepEqual(sanUris(undefined), []);
  assert.equal(renewAtMs({ notBeforeMs: 0, notAfterMs: 24 * 3600_000 }), 16 * 3600_000);
  assert.equal(renewAtMs({ notBeforeMs: 1000, notAfterMs: 2000 }, 0.5), 1500);
});

test('a real CA and leaf through the host port: modes, SAN, issuer, lifetime; bad leaves are refused', { skip: hasOpenssl }, async (t) => {
  const meshDir = await mkdtemp(join(tmpdir(), 'meshlet-ca-'));
  t.after(() => rm(meshDir, { recursive: true, force: true }));
  const host = createHost();
  const deps: ActionDeps = { host, cgroups: undefined, signal: () => Promise.resolve(false), sweep: () => Promise.resolve(0) };
  const step = planMeshCa({ mesh: 'shop', meshDir });
  for (const a of step.do) await runAction(a, deps);
  const ca = caPaths(meshDir);
  assert.equal((await stat(ca.dir)).mode & 0o777, 0o700);
  assert.equal((await stat(ca.key)).mode & 0o777, 0o600);
  const caPem = (await host.readFile(ca.cert)) as string;
  const caFacts = certFacts(caPem);
  assert.equal(caFacts.isCa, true);
  assert.deepEqual(caFacts.uris, ['spiffe://shop']);

  const before = Date.now();
  const leaf = await issueLeaf(host, { ...ca, pem: caPem }, { mesh: 'shop', service: 'payments', pod: 'payments-1' });
  assert.equal(leaf.identity, 'spiffe://shop/svc/payments');
  assert.deepEqual(certFacts(leaf.certPem).uris, ['spiffe://shop/svc/payments']);
  assert.equal(certFacts(leaf.certPem).isCa, false);
  assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  // 24 h, give or take the second granularity of certificates.
  assert.ok(Math.abs(leaf.notAfterMs - leaf.notBeforeMs - 24 * 3600_000) <= 1000);
  assert.ok(leaf.notBeforeMs <= Date.now() && leaf.notBeforeMs >= before - 2000);
  const other = await issueLeaf(host, { ...ca, pem: caPem }, { mesh: 'shop', service: 'payments', pod: 'payments-2' });
  assert.notEqual(other.serial, leaf.serial);
  assert.notEqual(other.keyPem, leaf.keyPem);

  // Wrong identity, a foreign CA, a key of another leaf: each refused with what is wrong (never the key).
  assert.throws(() => checkLeaf({ ...leaf, caPem, identity: 'spiffe://shop/svc/orders' }), /URI SANs \[spiffe:\/\/shop\/svc\/payments\], expected exactly spiffe:\/\/shop\/svc\/orders/);
  const foreignDir = await mkdtemp(join(tmpdir(), 'meshlet-ca-'));
  t.after(() => rm(foreignDir, { recursive: true, force: true }));
  for (const a of planMeshCa({ mesh: 'shop', meshDir: foreignDir }).do) await runAction(a, deps);
  const foreignPem = (await host.readFile(caPaths(foreignDir).cert)) as string;
  assert.throws(() => checkLeaf({ ...leaf, caPem: foreignPem }), /not signed by the mesh CA/);
  assert.throws(() => checkLeaf({ ...leaf, keyPem: other.keyPem, caPem }), (err: Error) => /does not match/.test(err.message) && !err.message.includes('PRIVATE KEY'));
  assert.throws(() => checkLeaf({ ...leaf, certPem: caPem, caPem }), /CA certificate/);

  for (const a of step.undo) await runAction(a, deps, true);
  await assert.rejects(stat(ca.dir), { code: 'ENOENT' });
  // Undo again: already gone is success.
  for (const a of step.undo) await runAction(a, deps, true);
});

test('an mtls mesh refuses published ports (no ingress that speaks mTLS yet); without mtls nothing is refused', () => {
  const r = parseMeshSpec(`
name: shop
mtls: true
services:
  web: { command: node w.js, port: 8080, publish: ["8080:8080"] }
  api: { command: node a.js, port: 9090 }
`);
  assert.ok(r.ok);
  const problems = mtlsSpecProblems(r.spec);
  assert.deepEqual(problems.map((p) => p.code), ['ERR_RUNTIME_UNSUPPORTED']);
  assert.match(problems[0]?.message ?? '', /^services\.web\.publish does not work with mtls: true/);
  assert.deepEqual(mtlsSpecProblems({ ...r.spec, mtls: false }), []);
});
