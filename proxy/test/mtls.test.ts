// mTLS between sidecars with SPIFFE identities: certificates made with openssl for the test, a mesh CA
// and a foreign CA; inbound verifies callers and enforces allow/deny by identity; outbound verifies
// that the endpoint is the destination it should be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { MESH_ERROR_HEADER, spiffeId } from '@meshlet/wire';
import { echoApp, get, startSidecar } from './helpers.ts';

const run = promisify(execFile);

interface Pem {
  certPem: string;
  keyPem: string;
}

async function makeCa(dir: string, name: string): Promise<Pem & { certFile: string; keyFile: string }> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}

async function makeLeaf(dir: string, ca: { certFile: string; keyFile: string }, name: string, uri: string): Promise<Pem> {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, `subjectAltName=URI:${uri}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', extFile]);
  return { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}

test('mTLS: SPIFFE identities verified both ways; allow/deny by identity', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-mtls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await makeCa(dir, 'mesh-ca');
  const foreignCa = await makeCa(dir, 'foreign-ca');
  const tlsFor = async (service: string, signer = ca) => ({ ...(await makeLeaf(dir, signer, `${service}-${signer === ca ? 'mesh' : 'foreign'}`, spiffeId('meshlet', service))), caPem: ca.certPem, identity: spiffeId('meshlet', service) });

  const app = await echoApp();
  t.after(() => app.close());
  const payments = await startSidecar({ service: 'payments', app: app.address, tls: await tlsFor('payments'), inbound: { deny: ['spiffe://meshlet/svc/shipping'] } });
  t.after(() => payments.close());
  const orders = await startSidecar({ service: 'orders', app: null, tls: await tlsFor('orders'), destinations: { payments: { endpoints: [{ address: payments.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => orders.close());

  const ok = await get(`http://${orders.outbound}/pay`, { host: 'payments' });
  assert.equal(ok.status, 200);
  assert.equal((ok.json() as { url: string }).url, '/pay');
  const metrics = await payments.sidecar.metrics().render();
  assert.match(metrics, /meshlet_requests_total\{direction="inbound",source="orders",destination="payments"/, 'the caller is known from its certificate');

  // Plain HTTP to an mTLS inbound listener does not get through.
  await assert.rejects(request(`http://${payments.inbound}/`, { headers: { host: 'payments' } }).then((r) => r.body.text()));

  // A sidecar with a certificate from another CA is refused during the handshake.
  const foreign = await startSidecar({
    service: 'orders',
    app: null,
    tls: { ...(await tlsFor('orders', foreignCa)), caPem: ca.certPem },
    destinations: { payments: { endpoints: [{ address: payments.inbound }], retry: { maxRetries: 0 } } },
  });
  t.after(() => foreign.close());
  const refused = await get(`http://${foreign.outbound}/`, { host: 'payments' });
  assert.equal(refused.status, 502);
  assert.equal(refused.headers[MESH_ERROR_HEADER], 'upstream_reset');

  // A caller with a valid certificate but a denied identity: 403 denied, made by the payments sidecar.
  const shipping = await startSidecar({ service: 'shipping', app: null, tls: await tlsFor('shipping'), destinations: { payments: { endpoints: [{ address: payments.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => shipping.close());
  const denied = await get(`http://${shipping.outbound}/`, { host: 'payments' });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers[MESH_ERROR_HEADER], 'denied');
  assert.match(String(denied.json().error), /spiffe:\/\/meshlet\/svc\/shipping/);

  // An endpoint that is not who the destination should be (a shipping sidecar listed as payments).
  const impostorApp = await echoApp();
  t.after(() => impostorApp.close());
  const impostor = await startSidecar({ service: 'shipping', app: impostorApp.address, tls: await tlsFor('shipping') });
  t.after(() => impostor.close());
  const fooled = await startSidecar({ service: 'orders', app: null, tls: await tlsFor('orders'), destinations: { payments: { endpoints: [{ address: impostor.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => fooled.close());
  const mismatch = await get(`http://${fooled.outbound}/`, { host: 'payments' });
  assert.equal(mismatch.status, 502);
  assert.match(String(mismatch.json().error), /expected spiffe:\/\/meshlet\/svc\/payments/);

  // The caller header cannot stand in for a certificate.
  const spoof = await startSidecar({ service: 'payments2', app: app.address, tls: await tlsFor('payments2'), inbound: { allow: ['spiffe://meshlet/svc/orders'] } });
  t.after(() => spoof.close());
  const viaShipping = await startSidecar({ service: 'shipping', app: null, tls: await tlsFor('shipping'), destinations: { payments2: { endpoints: [{ address: spoof.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => viaShipping.close());
  assert.equal((await get(`http://${viaShipping.outbound}/`, { host: 'payments2', 'x-meshlet-caller': 'orders' })).status, 403);
  const viaOrders = await startSidecar({ service: 'orders', app: null, tls: await tlsFor('orders'), destinations: { payments2: { endpoints: [{ address: spoof.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => viaOrders.close());
  assert.equal((await get(`http://${viaOrders.outbound}/`, { host: 'payments2' })).status, 200);
});
