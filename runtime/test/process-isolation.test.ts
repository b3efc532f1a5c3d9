// `--isolation=process`: the same spec without root — each pod on its own 127.x address, apps reach
// the mesh through HTTP_PROXY (their sidecar's outbound listener), published ports through a
// forwarder. Run here as an unprivileged user (nobody) to prove that no root is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MeshStatus } from '../src/mesh.ts';
import { meshNames } from '../src/names.ts';
import { processesWithEnv } from '../src/procs.ts';
import { OWNER_ENV } from '../src/names.ts';
import { meshFixture, meshlet, tempDir, waitFor } from './helpers.ts';
import { rm } from 'node:fs/promises';

const NOBODY = 65534;
const asNobody = process.getuid?.() === 0;

test('a mesh of plain processes on loopback addresses, without root', { timeout: 180_000 }, async (t) => {
  const uid = asNobody ? NOBODY : undefined;
  const home = await tempDir('meshlet-home-');
  t.after(() => rm(home, { recursive: true, force: true }));
  const { net, mesh, stateDir, appDir, hostPort, run } = await meshFixture(t, 'pi', { ...(uid === undefined ? {} : { uid }), env: { HOME: home } });
  await writeFile(
    join(appDir, 'mesh.yaml'),
    `
name: ${mesh}
network: { subnet: ${net.subnet} }
telemetry: { collector: none }
services:
  web:
    command: ["node", "app.js"]
    port: 8080
    publish: ["127.0.0.1:${hostPort}:8080"]
    depends_on: { back: { condition: healthy } }
  back:
    command: ["node", "app.js"]
    port: 9090
    replicas: 2
    health: { http: /healthz, interval: 1s }
    faults:
      - { name: boom, enabled: false, abort: { status: 503 } }
  catalog:
    command: ["node", "app.js"]
    port: 7070
    versions: { blue: {}, green: {} }
    traffic: { blue: 100, green: 0 }
`,
  );
  if (uid !== undefined) for (const d of [stateDir, appDir, home, join(appDir, 'app.js'), join(appDir, 'mesh.yaml')]) await chown(d, uid, uid);

  if (uid !== undefined) {
    // Without root, the default isolation says in one line what needs root and what to do instead.
    const refused = await run(['up', '-d', '-f', 'mesh.yaml']);
    assert.equal(refused.code, 1);
    const lines = refused.stderr.trim().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0] as string, /needs root .* use --isolation=process/);
  }

  const up = await run(['up', '-d', '--isolation=process', '-f', 'mesh.yaml']);
  assert.equal(up.code, 0, up.stderr);
  const ps = async () => (JSON.parse((await run(['ps', '-o', 'json'])).stdout) as MeshStatus[])[0] as MeshStatus;
  const status = await ps();
  const loopback = `127.${net.subnet.split('.')[1]}.${net.subnet.split('.')[2]}.`;
  assert.deepEqual(status.pods.map((p) => [p.name, p.ready, p.ip.startsWith(loopback)]), [
    ['back-1', true, true],
    ['back-2', true, true],
    ['catalog-blue-1', true, true],
    ['catalog-green-1', true, true],
    ['web-1', true, true],
  ]);
  assert.equal(new Set(status.pods.map((p) => p.ip)).size, 5);

  const web = status.pods.find((p) => p.name === 'web-1')?.ip as string;
  const call = async (target: string) => {
    const r = await fetch(`http://${web}:15006/call?url=${encodeURIComponent(target)}`);
    return (await r.json()) as { status: number; headers: Record<string, string>; body: string };
  };
  // The web app calls `back` by name through HTTP_PROXY; both replicas answer, through sidecars.
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await fetch(`http://${web}:15006/call?url=${encodeURIComponent('http://back:9090/x')}`);
    assert.equal(r.status, 200);
    const { status: code, body } = (await r.json()) as { status: number; body: string };
    assert.equal(code, 200);
    const echo = JSON.parse(body) as { pod: string; headers: Record<string, string> };
    assert.ok(echo.headers['x-request-id']);
    assert.match(echo.headers['traceparent'] ?? '', /^00-/);
    seen.add(echo.pod);
  }
  assert.deepEqual([...seen].sort(), ['back-1', 'back-2']);

  const published = await fetch(`http://127.0.0.1:${hostPort}/`);
  const echo = (await published.json()) as { pod: string; headers: Record<string, string> };
  assert.equal(echo.pod, 'web-1');
  assert.ok(echo.headers['x-request-id'], 'published traffic goes through the sidecar');

  // Traffic weights and fault switches change at run time, through the config API's watch stream.
  const versions = async () => new Set(await Promise.all(Array.from({ length: 8 }, async () => (JSON.parse((await call('http://catalog:7070/')).body) as { pod: string }).pod)));
  assert.deepEqual([...(await versions())], ['catalog-blue-1']);
  assert.equal((await run(['traffic', 'catalog', 'blue=0', 'green=100'])).code, 0);
  await waitFor('catalog traffic on green', async () => ((await versions()).has('catalog-blue-1') ? undefined : true), 5000, 100);
  assert.equal((await run(['fault', 'back', 'boom', 'on'])).code, 0);
  const faulted = await waitFor('the fault on back', async () => {
    const r = await call('http://back:9090/');
    return r.status === 503 ? r : undefined;
  }, 5000, 100);
  assert.equal(faulted.headers['x-meshlet-error'], 'fault_injected');
  assert.equal((await run(['fault', 'back', 'boom', 'off'])).code, 0);
  await waitFor('the fault off again', async () => ((await call('http://back:9090/')).status === 200 ? true : undefined), 5000, 100);
  const unknownFault = await run(['fault', 'back', 'nope', 'on']);
  assert.equal(unknownFault.code, 1);
  assert.match(unknownFault.stderr, /service back has no fault "nope" \(faults: boom\)/);

  // `up` again with a changed spec applies the difference: one catalog version fewer, one service more.
  await writeFile(join(appDir, 'mesh.yaml'), (await readFile(join(appDir, 'mesh.yaml'), 'utf8')).replace('versions: { blue: {}, green: {} }', 'versions: { green: {} }').replace('traffic: { blue: 100, green: 0 }', 'traffic: { green: 100 }') + '  extra:\n    command: ["node", "app.js"]\n    port: 6060\n');
  const again = await run(['up', '-d', '--isolation=process', '-f', 'mesh.yaml']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await ps()).pods.map((p) => p.name), ['back-1', 'back-2', 'catalog-green-1', 'extra-1', 'web-1']);
  assert.equal((await call('http://extra:6060/')).status, 200);

  assert.equal((await run(['scale', 'back=3'])).code, 0);
  await waitFor('three ready back pods', async () => ((await ps()).pods.filter((p) => p.service === 'back' && p.ready).length === 3 ? true : undefined), 60_000);

  const owner = meshNames(stateDir, mesh).owner;
  assert.ok((await processesWithEnv(OWNER_ENV, owner)).length >= 12);
  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await processesWithEnv(OWNER_ENV, owner), []);
  assert.equal((await run(['ps'])).stderr.trim(), 'no mesh is running');
});

test('`up` in the foreground: returns a one-shot mesh\'s exit code, and Ctrl-C takes a mesh down', { timeout: 120_000 }, async (t) => {
  const { net, stateDir, appDir } = await meshFixture(t, 'fg');
  await writeFile(join(appDir, 'job.yaml'), `name: fj${net.id}\nnetwork: { subnet: ${net.subnet} }\ntelemetry: { collector: none }\nservices:\n  job: { command: ["node", "-e", "console.log('working'); setTimeout(() => process.exit(7), 500)"] }\n`);
  const job = await meshlet(['up', '--isolation=process', '-f', 'job.yaml'], { stateDir, cwd: appDir });
  assert.equal(job.code, 7, job.stderr);
  assert.match(job.stdout, /job-1 \| working/);
  assert.match(job.stderr, /job-1 \[pod\.exited\] app exited with code 7/);

  const { spawn } = await import('node:child_process');
  const { MESHLET } = await import('./helpers.ts');
  await writeFile(join(appDir, 'web.yaml'), `name: fw${net.id}\nnetwork: { subnet: ${net.subnet} }\ntelemetry: { collector: none }\nservices:\n  web: { command: ["node", "app.js"], port: 8080 }\n`);
  const child = spawn(process.execPath, [MESHLET, 'up', '--isolation=process', '-f', 'web.yaml'], { cwd: appDir, env: { ...process.env, MESHLET_RUNTIME_STATE_DIR: stateDir, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor('the mesh to be up', () => (stderr.includes('Ctrl-C stops the mesh') ? true : undefined), 60_000, 100);
  const owner = meshNames(stateDir, `fw${net.id}`).owner;
  assert.equal((await processesWithEnv(OWNER_ENV, owner)).length, 2);
  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.deepEqual(await processesWithEnv(OWNER_ENV, owner), []);
});

test('after kill -9 of the daemon, the next `up` first removes what the dead one left', { timeout: 120_000 }, async (t) => {
  const { net, mesh, stateDir, appDir } = await meshFixture(t, 'pk');
  await writeFile(join(appDir, 'mesh.yaml'), `name: ${mesh}\nnetwork: { subnet: ${net.subnet} }\ntelemetry: { collector: none }\nservices:\n  web: { command: ["node", "app.js"], port: 8080, replicas: 2 }\n`);
  const up = () => meshlet(['up', '-d', '--isolation=process', '-f', 'mesh.yaml'], { stateDir, cwd: appDir });
  assert.equal((await up()).code, 0);
  const owner = meshNames(stateDir, mesh).owner;
  const first = await processesWithEnv(OWNER_ENV, owner);
  assert.equal(first.length, 4);
  const { readFile: read } = await import('node:fs/promises');
  process.kill(Number(await read(join(stateDir, 'daemon.pid'), 'utf8')), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual((await processesWithEnv(OWNER_ENV, owner)).sort(), first.sort(), 'orphans survive the daemon');
  const again = await up();
  assert.equal(again.code, 0, again.stderr);
  const second = await processesWithEnv(OWNER_ENV, owner);
  assert.equal(second.length, 4);
  assert.deepEqual(second.filter((pid) => first.includes(pid)), [], 'none of the old processes is left');
  assert.match(await read(join(stateDir, 'daemon.log'), 'utf8'), new RegExp(`removed leftovers of mesh ${mesh}`));
});
