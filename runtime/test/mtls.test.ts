// `mtls: true`. On a real bridge: the runtime is the mesh CA, each sidecar serves only mTLS on 15006
// with a leaf naming its service (`spiffe://<mesh>/svc/<service>`), pods still reach each other by
// name, the inbound policy works by the caller's certificate, leaves are re-issued and pushed while the
// mesh runs, keys show up nowhere else, and `down` removes the CA with everything else. The same with
// `--isolation=process` and no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chown, readFile, readdir, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type PeerCertificate } from 'node:tls';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EMPTY_INVENTORY, inPod, inventory, meshFixture, meshStatus, needsRoot, tempDir, waitFor } from './helpers.ts';

/** The certificate a TLS server presents to a client without a certificate (the server may reject us after). */
function presented(host: string, port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, servername: 'meshlet' }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
  });
}

/** What a client gets from `host:port` (plain HTTP or TLS without a certificate): the reply's start, or how it ended. */
function exchange(o: { host: string; port: number; tls: boolean }): Promise<string> {
  return new Promise((resolve) => {
    const payload = `GET / HTTP/1.1\r\nhost: b\r\nconnection: close\r\n\r\n`;
    let got = '';
    const done = (how: string) => resolve(got === '' ? how : `data: ${got.slice(0, 40)}`);
    if (!o.tls) {
      const req = request({ host: o.host, port: o.port, path: '/', timeout: 5000 }, (res) => {
        got = `HTTP ${res.statusCode}`;
        res.resume();
        res.on('end', () => done('end'));
      });
      req.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code ?? e.message}`));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
      return;
    }
    const socket = connect({ host: o.host, port: o.port, rejectUnauthorized: false, servername: 'meshlet' }, () => socket.write(payload));
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code ?? e.message}`));
    socket.on('close', () => done('closed'));
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
  });
}

test('mtls: sidecars speak mTLS with SPIFFE leaves from the mesh CA; policy by caller; rotation; keys kept; CA removed on down', { skip: needsRoot, timeout: 120_000 }, async (t) => {
  const { net, mesh, stateDir, appDir, network, run } = await meshFixture(t, 'mt');
  await writeFile(
    join(appDir, 'mesh.yaml'),
    `
name: ${mesh}
${network}
telemetry: { collector: none }
mtls: true
services:
  a: { command: ["node", "app.js"], port: 8080 }
  c: { command: ["node", "app.js"], port: 8080 }
  b:
    command: ["node", "app.js"]
    port: 9090
    health: { http: /healthz, interval: 1s }
    policy: { deny: [c] }
`,
  );
  const check = await run(['check', '-f', 'mesh.yaml', '-o', 'json']);
  const checks = JSON.parse(check.stdout) as { check: string; ok: boolean }[];
  assert.ok(checks.find((c) => c.check === 'spec')?.ok, check.stdout);
  assert.ok(checks.find((c) => c.check === 'tool openssl')?.ok, check.stdout);
  // Leaves are re-issued every 4 s here (24 h leaves, normally renewed at 16 h), so rotation is seen.
  const up = await run(['up', '-d', '-f', 'mesh.yaml'], { MESHLET_RUNTIME_CERT_RENEW_MS: '4000' });
  assert.equal(up.code, 0, up.stderr);
  const status = await meshStatus(stateDir, mesh);
  assert.deepEqual(status.pods.map((p) => [p.name, p.ready]), [['a-1', true], ['b-1', true], ['c-1', true]]);
  const bIp = status.pods.find((p) => p.name === 'b-1')?.ip as string;

  const caDir = join(stateDir, mesh, 'ca');
  const caPem = await readFile(join(caDir, 'ca.crt'), 'utf8');
  const ca = new X509Certificate(caPem);

  await t.test('the CA lives in the state dir, key 0600, directory 0700', async () => {
    assert.equal((await stat(caDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(caDir, 'ca.key'))).mode & 0o777, 0o600);
    assert.equal(ca.ca, true);
  });

  let firstSerial = '';
  await t.test("b's sidecar presents a leaf with exactly its SPIFFE id, signed by the mesh CA", async () => {
    const peer = await presented(bIp, 15006);
    assert.equal(peer.subjectaltname, `URI:spiffe://${mesh}/svc/b`);
    const leaf = new X509Certificate(peer.raw);
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'issued and signed by the mesh CA');
    assert.equal(leaf.ca, false);
    const lifeMs = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.equal(lifeMs, 24 * 3600_000);
    firstSerial = leaf.serialNumber;
  });

  await t.test('without a mesh certificate nothing gets in: plain HTTP and certificate-less TLS are refused', async () => {
    for (const port of [15006, 9090]) {
      const plain = await exchange({ host: bIp, port, tls: false });
      assert.match(plain, /^error /, `plain HTTP to ${port}: ${plain}`);
      const tls = await exchange({ host: bIp, port, tls: true });
      // TLS 1.3: the server sends the `certificate_required` alert (RFC 8446 §4.4.2.4) after our Finished.
      assert.match(tls, /^error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^error ECONNRESET$/, `TLS without a certificate to ${port}: ${tls}`);
    }
  });

  await t.test('leaves are re-issued and the sidecar presents the new one to new connections', async () => {
    const serial = await waitFor('a new leaf on b-1', async () => {
      const leaf = new X509Certificate((await presented(bIp, 15006)).raw);
      return leaf.serialNumber !== firstSerial && leaf.checkIssued(ca) && leaf.verify(ca.publicKey) ? leaf.serialNumber : undefined;
    }, 20_000, 250);
    assert.notEqual(serial, firstSerial);
  });

  await t.test('a reaches b by name through both sidecars; c is denied by b\'s policy on its certificate', async () => {
    const call = `
      const http = require('http');
      http.get('http://b:9090/hello', (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, error: r.headers['x-meshlet-error'], body: b }))); })
        .on('error', (e) => console.log(JSON.stringify({ error: e.code })));`;
    const [fromA, fromC] = await Promise.all([inPod(stateDir, mesh, 'a-1', call), inPod(stateDir, mesh, 'c-1', call)]);
    const a = JSON.parse(fromA.stdout) as { status: number; body: string };
    assert.equal(a.status, 200, fromA.stdout + fromA.stderr);
    const echo = JSON.parse(a.body) as { pod: string; remote: string; headers: Record<string, string> };
    assert.equal(echo.pod, 'b-1');
    assert.equal(echo.remote, '127.0.0.1');
    assert.ok(echo.headers['x-request-id']);
    const c = JSON.parse(fromC.stdout) as { status: number; error: string; body: string };
    assert.equal(c.status, 403, fromC.stdout + fromC.stderr);
    assert.equal(c.error, 'denied');
    assert.match(c.body, new RegExp(`spiffe://${mesh}/svc/c`));
  });

  await t.test('private keys appear in no inspect output, admin /config, config API answer to the host, or log', async () => {
    const inspect = await run(['inspect', '--mesh', mesh, 'b-1']);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.doesNotMatch(inspect.stdout, /PRIVATE KEY/);
    const cert = (JSON.parse(inspect.stdout) as { certificate: { identity: string; notAfter: string; renewAt: string } }[])[0]?.certificate;
    assert.equal(cert?.identity, `spiffe://${mesh}/svc/b`);
    assert.ok(Date.parse(cert?.renewAt ?? '') < Date.parse(cert?.notAfter ?? ''));
    const admin = (await (await fetch(`http://${bIp}:15000/config`)).json()) as { tls?: { keyPem: string; certPem: string }; config?: { tls?: { keyPem: string; certPem: string } } };
    const tls = admin.tls ?? admin.config?.tls;
    assert.equal(tls?.keyPem, '(redacted)');
    assert.match(tls?.certPem ?? '', /BEGIN CERTIFICATE/);
    // The config API gives the key only to the pod's own address (its sidecar); the host gets it redacted.
    const served = (await (await fetch(`http://${status.configApi}/v1/pods/b-1/config`)).json()) as { tls: { keyPem: string; certPem: string; identity: string } };
    assert.equal(served.tls.keyPem, '(redacted)');
    assert.equal(served.tls.identity, `spiffe://${mesh}/svc/b`);
    const logs: string[] = [join(stateDir, 'daemon.log')];
    for (const pod of await readdir(join(stateDir, mesh, 'pods'))) logs.push(join(stateDir, mesh, 'pods', pod, 'logs', 'sidecar.log'), join(stateDir, mesh, 'pods', pod, 'logs', 'app.log'));
    for (const file of logs) assert.doesNotMatch(await readFile(file, 'utf8').catch(() => ''), /PRIVATE KEY/, file);
  });

  const down = await run(['down', '--mesh', mesh]);
  assert.equal(down.code, 0, down.stderr);
  await assert.rejects(stat(caDir), { code: 'ENOENT' });
  assert.deepEqual(await inventory({ stateDir, mesh, bridge: net.bridge, subnetPrefix: net.prefix, pods: status.pods.map((p) => p.name) }), EMPTY_INVENTORY);
});

test('mtls with --isolation=process, without root: mTLS between sidecars, allow list by certificate, CA removed on down', { timeout: 120_000 }, async (t) => {
  const uid = process.getuid?.() === 0 ? 65534 : undefined; // nobody, when we are root
  const home = await tempDir('meshlet-home-');
  t.after(() => rm(home, { recursive: true, force: true }));
  const { net, mesh, stateDir, appDir, run } = await meshFixture(t, 'mp', { ...(uid === undefined ? {} : { uid }), env: { HOME: home } });
  await writeFile(
    join(appDir, 'mesh.yaml'),
    `
name: ${mesh}
network: { subnet: ${net.subnet} }
telemetry: { collector: none }
mtls: true
services:
  a: { command: ["node", "app.js"], port: 8080 }
  b: { command: ["node", "app.js"], port: 9090, policy: { allow: [a] } }
`,
  );
  // Published ports are refused under mtls (outside callers have no certificate), by check and by up.
  await writeFile(join(appDir, 'pub.yaml'), `name: ${mesh}p\nnetwork: { subnet: ${net.subnet} }\ntelemetry: { collector: none }\nmtls: true\nservices:\n  a: { command: ["node", "app.js"], port: 8080, publish: ["127.0.0.1:1:8080"] }\n`);
  if (uid !== undefined) for (const d of [stateDir, appDir, home, join(appDir, 'app.js'), join(appDir, 'mesh.yaml'), join(appDir, 'pub.yaml')]) await chown(d, uid, uid);
  const checked = await run(['check', '--isolation=process', '-f', 'pub.yaml', '-o', 'json']);
  assert.equal(checked.code, 1);
  assert.match(JSON.stringify((JSON.parse(checked.stdout) as { check: string; ok: boolean; detail: string }[]).find((c) => c.check === 'mtls')), /"ok":false.*services\.a\.publish does not work with mtls/);
  const refused = await run(['up', '-d', '--isolation=process', '-f', 'pub.yaml']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /services\.a\.publish does not work with mtls: true/);
  const up = await run(['up', '-d', '--isolation=process', '-f', 'mesh.yaml']);
  assert.equal(up.code, 0, up.stderr);
  const status = await meshStatus(stateDir, mesh);
  const ipOf = (pod: string) => status.pods.find((p) => p.name === pod)?.ip as string;
  const call = async (pod: string, port: number) =>
    (await (await fetch(`http://${ipOf(pod)}:${port}/call?url=${encodeURIComponent('http://b:9090/x')}`)).json()) as { status: number; headers: Record<string, string>; body: string };
  // The apps call b through their sidecars (HTTP_PROXY); b's sidecar admits a by its certificate, not b itself.
  const fromA = await call('a-1', 8080);
  assert.equal(fromA.status, 200, JSON.stringify(fromA));
  assert.equal((JSON.parse(fromA.body) as { pod: string }).pod, 'b-1');
  const fromB = await call('b-1', 9090);
  assert.equal(fromB.status, 403);
  assert.equal(fromB.headers['x-meshlet-error'], 'denied');
  assert.match(fromB.body, new RegExp(`spiffe://${mesh}/svc/b is not in the allow list`));
  const peer = await presented(ipOf('b-1'), 15006);
  assert.equal(peer.subjectaltname, `URI:spiffe://${mesh}/svc/b`);
  const ca = new X509Certificate(await readFile(join(stateDir, mesh, 'ca', 'ca.crt'), 'utf8'));
  assert.ok(new X509Certificate(peer.raw).verify(ca.publicKey));
  assert.match(await exchange({ host: ipOf('b-1'), port: 15006, tls: false }), /^error /);
  const down = await run(['down', '--mesh', mesh]);
  assert.equal(down.code, 0, down.stderr);
  await assert.rejects(stat(join(stateDir, mesh)), { code: 'ENOENT' });
});
