import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseMeshSpec } from '@meshlet/wire';
import type { LogWriter } from './log-store.ts';
import { desiredPods } from './model.ts';
import { createPod, type PodDeps, type PodEvent, type PodLauncher } from './pod.ts';
import type { Exit, Running } from './processes.ts';

/** A program the test ends at will. */
function fakeProcess(pid: number): Running & { end(exit: Exit): void; stops: number; ooms: number } {
  let end: (e: Exit) => void = () => {};
  const exited = new Promise<Exit>((r) => (end = r));
  const p = {
    pid,
    startTicks: undefined,
    exited,
    stops: 0,
    ooms: 0,
    end: (e: Exit) => end(e),
    stop(): Promise<Exit> {
      p.stops++;
      end({ code: 143, signal: 'SIGTERM' });
      return exited;
    },
    signal() {},
    oomKills: () => p.ooms,
  };
  return p;
}

const nullLog: LogWriter = { write() {}, dropped: () => 0, flush: () => Promise.resolve(), close: () => Promise.resolve() };

/** A sidecar admin listener and an app port, both on 127.0.0.1:0; the test sets the app's health. */
async function servers(t: { after(fn: () => void): void }) {
  const shutdowns: number[] = [];
  let onShutdown = () => {};
  const admin = createServer((req, res) => {
    if (req.url === '/shutdown' && req.method === 'POST') {
      shutdowns.push(Date.now());
      res.end();
      onShutdown();
      return;
    }
    res.statusCode = req.url === '/ready' ? 200 : 404;
    res.end();
  });
  const health = { status: 200 };
  const app = createServer((_, res) => {
    res.statusCode = health.status;
    res.end();
  });
  const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  const adminPort = await listen(admin);
  const appPort = await listen(app);
  t.after(() => {
    admin.close();
    app.close();
  });
  return { adminPort, appPort, health, shutdowns, setOnShutdown: (fn: () => void) => (onShutdown = fn) };
}

async function setup(t: { after(fn: () => void): void }, serviceYaml: (appPort: number) => string, extra: Partial<PodDeps> = {}, launcher: Partial<PodLauncher> = {}) {
  const srv = await servers(t);
  const r = parseMeshSpec(`services:\n  web:\n${serviceYaml(srv.appPort)}`);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const [desired] = desiredPods(r.spec, '/srv');
  const sidecars: ReturnType<typeof fakeProcess>[] = [];
  const apps: ReturnType<typeof fakeProcess>[] = [];
  const events: PodEvent[] = [];
  const order: string[] = [];
  const pod = createPod({
    mesh: 'm',
    pod: desired as NonNullable<typeof desired>,
    ip: '127.0.0.1',
    names: undefined,
    hasNetns: false,
    launcher: {
      startSidecar: () => {
        order.push('sidecar');
        const p = fakeProcess(100 + sidecars.length);
        sidecars.push(p);
        srv.setOnShutdown(() => p.end({ code: 0, signal: null }));
        return Promise.resolve(p);
      },
      startApp: () => {
        order.push('app');
        const p = fakeProcess(200 + apps.length);
        apps.push(p);
        return Promise.resolve(p);
      },
      execCheck: () => Promise.resolve({ code: 0, output: '' }),
      probeTarget: { host: '127.0.0.1' },
      admin: { host: '127.0.0.1', port: srv.adminPort },
      ...launcher,
    },
    cgroups: undefined,
    telemetry: { event() {}, output() {}, close: () => Promise.resolve() },
    logs: { app: nullLog, sidecar: nullLog },
    onChange() {},
    onEvent: (e) => events.push(e),
    track: () => Promise.resolve(),
    stopGraceMs: 50,
    ...extra,
  });
  t.after(() => void pod.close());
  return { pod, srv, sidecars, apps, events, order };
}

const until = async (what: string, fn: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('sidecar first, app once the sidecar is ready; ready once the port answers', async (t) => {
  const { pod, order, events } = await setup(t, (port) => `    command: node a.js\n    port: ${port}\n`);
  await pod.start();
  assert.deepEqual(order, ['sidecar', 'app']);
  await until('ready', () => pod.status().ready);
  assert.equal(pod.status().state, 'running');
  assert.deepEqual(events.map((e) => e.name), ['meshlet.pod.started']);
});

test('a one-shot job: the sidecar drains and the pod keeps the exit code', async (t) => {
  const { pod, apps, srv, sidecars, events } = await setup(t, () => '    command: node job.js\n');
  await pod.start();
  apps[0]?.end({ code: 3, signal: null });
  await until('failed', () => pod.status().state === 'failed');
  assert.equal(pod.status().exitCode, 3);
  assert.equal(srv.shutdowns.length, 1, 'POST /shutdown');
  assert.equal(await sidecars[0]?.exited.then((e) => e.code), 0);
  assert.deepEqual(events.map((e) => e.name), ['meshlet.pod.started', 'meshlet.pod.exited']);
});

test('on-failure:1 restarts once with backoff, then gives up', async (t) => {
  const { pod, apps, events } = await setup(t, () => '    command: node a.js\n    restart: on-failure:1\n');
  await pod.start();
  const t0 = Date.now();
  apps[0]?.end({ code: 1, signal: null });
  await until('restarted', () => apps.length === 2 && pod.status().state === 'running');
  assert.ok(Date.now() - t0 >= 240, 'waited the first backoff step (250 ms)');
  assert.equal(pod.status().restarts, 1);
  assert.equal(pod.status().lastRestartReason, 'exit');
  apps[1]?.end({ code: 1, signal: null });
  await until('failed', () => pod.status().state === 'failed');
  assert.equal(apps.length, 2);
  assert.deepEqual(events.map((e) => e.name), ['meshlet.pod.started', 'meshlet.pod.exited', 'meshlet.pod.restarted', 'meshlet.pod.started', 'meshlet.pod.exited']);
});

test('an app that never passed its health check is reported unhealthy at once but restarted only after the start grace', async (t) => {
  const { pod, apps, srv } = await setup(t, (port) => `    command: node a.js\n    port: ${port}\n    health: { http: /h, interval: 100ms, retries: 2 }\n`, { unhealthyRestartGraceMs: 1500 });
  srv.health.status = 500;
  const t0 = Date.now();
  await pod.start();
  await until('unhealthy', () => pod.status().health === 'unhealthy');
  assert.equal(apps.length, 1, 'reported, not yet restarted');
  srv.health.status = 200;
  await until('healthy without a restart', () => pod.status().health === 'healthy');
  assert.equal(apps.length, 1);
  srv.health.status = 500;
  await until('restarted once it had been healthy', () => apps.length === 2);
  assert.ok(Date.now() - t0 >= 150);
  // The new run never passes: it is restarted only once the grace is over.
  const restartedAt = Date.now();
  await until('restarted again after the grace', () => apps.length === 3, 6000);
  assert.ok(Date.now() - restartedAt >= 1400, `second restart after ${Date.now() - restartedAt} ms`);
});

test('failing health restarts the app (policy no), and the new one is healthy', async (t) => {
  const { pod, apps, srv, events } = await setup(t, (port) => `    command: node a.js\n    port: ${port}\n    health: { http: /h, interval: 100ms, retries: 2 }\n`);
  await pod.start();
  await until('healthy', () => pod.status().health === 'healthy' && pod.status().ready);
  srv.health.status = 500;
  await until('unhealthy', () => pod.status().state === 'unhealthy' || apps.length > 1);
  srv.health.status = 200;
  await until('restarted and healthy', () => apps.length === 2 && pod.status().health === 'healthy' && pod.status().ready);
  assert.equal((apps[0] as { stops: number }).stops, 1, 'the unhealthy app was stopped');
  assert.equal(pod.status().lastRestartReason, 'unhealthy');
  const names = events.map((e) => e.name);
  assert.ok(names.includes('meshlet.pod.health_changed'));
  assert.ok(names.includes('meshlet.pod.restarted'));
});

test('an OOM kill is reported and is the restart reason', async (t) => {
  const { pod, apps, events } = await setup(t, () => '    command: node a.js\n    restart: always\n    resources: { memory: 64Mi }\n');
  await pod.start();
  (apps[0] as { ooms: number }).ooms = 1;
  apps[0]?.end({ code: 137, signal: 'SIGKILL' });
  await until('restarted', () => apps.length === 2);
  assert.equal(pod.status().lastRestartReason, 'oom');
  assert.equal(pod.status().oomKills, 1);
  assert.equal(events.filter((e) => e.name === 'meshlet.pod.oom_killed').length, 1);
});

test('an app waits for its dependencies; when they fail the pod fails without starting it', async (t) => {
  let release: (ok: boolean) => void = () => {};
  const gate = new Promise<boolean>((r) => (release = r));
  const { pod, order } = await setup(t, () => '    command: node a.js\n', { beforeFirstApp: () => gate });
  const started = pod.start();
  await until('sidecar', () => order.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(order, ['sidecar']);
  assert.equal(pod.status().detail, 'waiting for dependencies');
  release(false);
  await started;
  assert.equal(pod.status().state, 'failed');
  assert.deepEqual(order, ['sidecar']);
});

test('stop: app stopped, sidecar drained, state stopped; start brings both back', async (t) => {
  const { pod, apps, sidecars, srv } = await setup(t, () => '    command: node a.js\n    restart: always\n');
  await pod.start();
  await pod.stop();
  assert.equal(pod.status().state, 'stopped');
  assert.equal((apps[0] as { stops: number }).stops, 1);
  assert.equal(srv.shutdowns.length, 1);
  assert.equal(apps.length, 1, 'a stopped app is not restarted by its policy');
  await pod.start();
  assert.equal(pod.status().state, 'running');
  assert.equal(sidecars.length, 2);
  assert.equal(apps.length, 2);
});

test('a sidecar that exits before it is ready fails the pod; the app never starts', async (t) => {
  const { pod, order } = await setup(t, () => '    command: node a.js\n', {}, {
    startSidecar: () => {
      order.push('sidecar');
      const p = fakeProcess(1);
      p.end({ code: 1, signal: null });
      return Promise.resolve(p);
    },
    admin: { host: '127.0.0.1', port: 1 },
  });
  await pod.start();
  assert.equal(pod.status().state, 'failed');
  assert.match(pod.status().detail, /sidecar (exited|was stopped)/);
  assert.deepEqual(order, ['sidecar']);
});
