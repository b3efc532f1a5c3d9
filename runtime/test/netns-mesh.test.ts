// A mesh on a real bridge with real sidecars (`meshlet proxy`) and runc containers: pods reach each
// other only through their sidecars, a VIP load-balances across replicas, a published port answers
// from the host, config changes reach sidecars within a second, an unhealthy app is restarted, and
// `down` leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SidecarConfig } from '@meshlet/wire';
import type { MeshStatus } from '../src/mesh.ts';
import { EMPTY_INVENTORY, inPod, inventory, meshFixture, meshlet, meshStatus, needsRoot, waitFor } from './helpers.ts';

test('pods on a bridge talk only through their sidecars; VIPs, publishing, config push, health restarts, clean down', { skip: needsRoot, timeout: 240_000 }, async (t) => {
  const { net, mesh, stateDir, appDir, hostPort, network } = await meshFixture(t, 'nt');
  await writeFile(
    join(appDir, 'mesh.yaml'),
    `
name: ${mesh}
${network}
telemetry: { collector: none }
services:
  front:
    command: ["node", "app.js"]
    port: 8080
    publish: ["127.0.0.1:${hostPort}:8080"]
    depends_on: { back: { condition: healthy } }
  back:
    command: ["node", "app.js"]
    port: 9090
    replicas: 2
    health: { http: /healthz, interval: 1s }
  flaky:
    command: ["node", "app.js"]
    port: 7070
    resources: { cpus: 0.5, memory: 256Mi, pids: 64 }
    health: { http: /healthz, interval: 500ms, retries: 2 }
`,
  );
  const up = await meshlet(['up', '-d', '-f', join(appDir, 'mesh.yaml')], { stateDir, cwd: appDir });
  assert.equal(up.code, 0, up.stderr);
  const cli = JSON.parse((await meshlet(['ps', '-o', 'json', '--mesh', mesh], { stateDir })).stdout) as MeshStatus[];
  const ps = () => meshStatus(stateDir, mesh);
  const status = await ps();
  assert.deepEqual(cli[0]?.pods.map((p) => p.name), status.pods.map((p) => p.name));
  assert.deepEqual(status.pods.map((p) => [p.name, p.state, p.ready]), [
    ['back-1', 'running', true],
    ['back-2', 'running', true],
    ['flaky-1', 'running', true],
    ['front-1', 'running', true],
  ]);
  const ipOf = (pod: string) => status.pods.find((p) => p.name === pod)?.ip as string;

  // One script inside front-1's app container does the in-pod checks (an exec costs seconds).
  const inside = await inPod(
    stateDir,
    mesh,
    'front-1',
    `
    const dns = require('dns'); const http = require('http');
    const get = (url) => new Promise((resolve) => http.get(url, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => resolve({ status: r.statusCode, body: b })); }).on('error', (e) => resolve({ error: e.code })));
    (async () => {
      const byName = await get('http://back:9090/hello');
      const direct = await get('http://${ipOf('back-1')}:9090/');
      const directSidecar = await get('http://${ipOf('back-1')}:15006/');
      const vip = await new Promise((r) => dns.lookup('back', (e, a) => r(a)));
      // Concurrent requests: the balancer (P2C over peak-EWMA) weighs in-flight load, so it spreads them.
      const seen = {};
      for (let round = 0; round < 6; round++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => get('http://back:9090/')));
        for (const a of answers) { const p = JSON.parse(a.body).pod; seen[p] = (seen[p] || 0) + 1; }
      }
      const byAddress = JSON.parse((await get('http://' + vip + ':9090/')).body).pod;
      console.log(JSON.stringify({ byName, direct, directSidecar, vip, seen, byAddress }));
    })();`,
  );
  const checks = JSON.parse(inside.stdout) as { byName: { status: number; body: string }; direct: unknown; directSidecar: unknown; vip: string; seen: Record<string, number>; byAddress: string };

  await t.test('the app reaches another service by name, through both sidecars', () => {
    assert.equal(checks.byName.status, 200, inside.stdout + inside.stderr);
    const echo = JSON.parse(checks.byName.body) as { pod: string; remote: string; headers: Record<string, string> };
    assert.match(echo.pod, /^back-[12]$/);
    // The callee's app saw its own sidecar (loopback) and the mesh's headers, not the caller's app.
    assert.equal(echo.remote, '127.0.0.1');
    assert.match(echo.headers['traceparent'] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.ok(echo.headers['x-request-id']);
  });

  await t.test('going around the sidecars does not work', async () => {
    // App to another pod's app port, and to its sidecar port, directly: both refused in the caller's pod.
    assert.deepEqual(checks.direct, { error: 'ECONNREFUSED' });
    assert.deepEqual(checks.directSidecar, { error: 'ECONNREFUSED' });
    // From the host, the app port of a pod is answered by its sidecar (redirected to 15006).
    const r = await fetch(`http://${ipOf('back-1')}:9090/direct`);
    const echo = (await r.json()) as { remote: string; headers: Record<string, string> };
    assert.equal(echo.remote, '127.0.0.1');
    assert.ok(echo.headers['x-request-id']);
  });

  await t.test('the VIP resolves from /etc/hosts and spreads requests over both replicas', () => {
    assert.equal(checks.vip, status.vips['back']);
    assert.ok(checks.vip.startsWith(net.vipRange.split('.').slice(0, 3).join('.')));
    assert.deepEqual(Object.keys(checks.seen).sort(), ['back-1', 'back-2']);
    assert.match(checks.byAddress, /^back-[12]$/);
  });

  await t.test('a published port answers from the host', async () => {
    const r = await fetch(`http://127.0.0.1:${hostPort}/published`);
    assert.equal(r.status, 200);
    const echo = (await r.json()) as { pod: string; remote: string };
    assert.equal(echo.pod, 'front-1');
    assert.equal(echo.remote, '127.0.0.1');
  });

  await t.test('config changes reach the watch stream within a second', async (t2) => {
    const url = new URL(`http://${status.configApi}/v1/pods/front-1/config?watch=1`);
    const seen: { at: number; config: SidecarConfig }[] = [];
    const res = await new Promise<IncomingMessage>((resolve, reject) => request(url, resolve).on('error', reject).end());
    t2.after(() => res.destroy());
    let buffer = '';
    res.on('data', (c: Buffer) => {
      buffer += c.toString();
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
        buffer = buffer.slice(cut + 2);
        if (data !== undefined) seen.push({ at: Date.now(), config: JSON.parse(data.slice(6)) as SidecarConfig });
      }
    });
    const endpoints = () => seen.at(-1)?.config.destinations['back']?.endpoints.map((e) => `${e.pod}:${e.ready}`) ?? [];
    await waitFor('the first config', () => (seen.length > 0 ? true : undefined), 5000, 20);
    assert.deepEqual(endpoints(), ['back-1:true', 'back-2:true']);
    const bridgeMacNow = () => readFile(`/sys/class/net/${net.bridge}/address`, 'utf8');
    const macBefore = await bridgeMacNow();
    const scaled = await meshlet(['scale', '--mesh', mesh, 'back=3'], { stateDir });
    assert.equal(scaled.code, 0, scaled.stderr);
    // A veth joining the bridge does not change the bridge's address under the pods' ARP caches.
    assert.equal(await bridgeMacNow(), macBefore);
    const after = Date.now();
    await waitFor('back-3 in the config', () => (endpoints().some((e) => e.startsWith('back-3')) ? true : undefined), 1000, 20);
    assert.ok(Date.now() - after <= 1000);
    await waitFor('back-3 ready', () => (endpoints().includes('back-3:true') ? true : undefined), 30_000, 50);
    const stop = meshlet(['stop', '--mesh', mesh, 'back-2'], { stateDir });
    await waitFor('back-2 out of rotation', () => (endpoints().includes('back-2:false') ? true : undefined), 15_000, 20);
    const stopped = await stop;
    assert.equal(stopped.code, 0, stopped.stderr);
    // The sidecar itself applied it: its admin /config shows the latest revision.
    const live = (await (await fetch(`http://${ipOf('front-1')}:15000/config`)).json()) as { revision?: number; config?: { revision?: number } };
    const revision = live.revision ?? live.config?.revision;
    await waitFor('the sidecar to apply the last revision', async () => {
      const now = (await (await fetch(`http://${ipOf('front-1')}:15000/config`)).json()) as { revision?: number; config?: { revision?: number } };
      return (now.revision ?? now.config?.revision) === seen.at(-1)?.config.revision ? true : undefined;
    }, 2000, 50);
    assert.ok(revision !== undefined);
    assert.equal((await meshlet(['start', '--mesh', mesh, 'back-2'], { stateDir })).code, 0);
    const waitStart = Date.now();
    await waitFor('back-2 back in rotation', async () => {
      if (endpoints().includes('back-2:true')) return true;
      if (Date.now() - waitStart < 29_000) return undefined;
      // Said when the wait times out: what the pods and the watch stream show.
      const pods = (await ps()).pods.map((p) => ({ name: p.name, state: p.state, ready: p.ready, health: p.health, detail: p.detail, restarts: p.restarts }));
      throw new Error(`pods: ${JSON.stringify(pods)}; the watch stream (${res.complete || res.destroyed ? 'ended' : 'open'}, ${seen.length} configs) last showed ${endpoints().join(' ')}`);
    }, 30_000, 50);
  });

  await t.test('an unhealthy app is restarted and healthy again', async () => {
    await writeFile(join(appDir, 'broken-flaky'), '');
    const pod = await waitFor(
      'flaky-1 to be restarted and healthy',
      async () => {
        const p = (await ps()).pods.find((x) => x.name === 'flaky-1');
        if (p !== undefined && p.restarts >= 1 && p.health === 'healthy' && p.ready) return p;
        // Said when the wait times out.
        throw new Error(`flaky-1 is ${JSON.stringify(p && { state: p.state, health: p.health, ready: p.ready, restarts: p.restarts, lastRestartReason: p.lastRestartReason })}`);
      },
      30_000,
    );
    assert.equal(pod.lastRestartReason, 'unhealthy');
    const inspect = JSON.parse((await meshlet(['inspect', '--mesh', mesh, 'flaky-1'], { stateDir })).stdout) as { resources: unknown; cgroup: string }[];
    assert.deepEqual(inspect[0]?.resources, { cpus: 0.5, memoryBytes: 256 * 1024 * 1024, pids: 64 });
  });

  await t.test('stats, top and logs show the pods', async () => {
    const stats = JSON.parse((await meshlet(['stats', '--mesh', mesh, '-o', 'json', 'flaky'], { stateDir })).stdout) as { pod: string; memoryLimitBytes: number; pids: number; sidecar: { rssBytes: number } }[];
    assert.equal(stats[0]?.pod, 'flaky-1');
    assert.equal(stats[0]?.memoryLimitBytes, 256 * 1024 * 1024);
    assert.ok((stats[0]?.pids ?? 0) > 1);
    assert.ok((stats[0]?.sidecar.rssBytes ?? 0) > 0);
    const top = JSON.parse((await meshlet(['top', '--mesh', mesh, '-o', 'json', 'front-1'], { stateDir })).stdout) as { container: string; command: string; uid: number }[];
    assert.ok(top.some((r) => r.container === 'app' && r.command.includes('app.js')));
    assert.ok(top.some((r) => r.container === 'sidecar' && r.command.includes('proxy') && r.uid === 1337));
    const logs = await meshlet(['logs', '--mesh', mesh, 'back', '--tail', '5'], { stateDir });
    assert.match(logs.stdout, /back-1 \| listening on 9090/);
    assert.match(logs.stdout, /back-2 \| listening on 9090/);
  });

  const pods = (await ps()).pods.map((p) => p.name);
  const down = await meshlet(['down', '--mesh', mesh], { stateDir });
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await inventory({ stateDir, mesh, bridge: net.bridge, subnetPrefix: net.prefix, pods }), EMPTY_INVENTORY);
});
