// `meshlet proxy` as a process: flags, env, files, the runtime's config API (GET + SSE watch), drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { ROOT, echoApp, get, spawnProxy, startServer } from './helpers.ts';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'meshlet.js'), 'proxy', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const ports0 = ['--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0'];

test('--help documents every flag', async () => {
  const { code, stdout } = await run(['--help']);
  assert.equal(code, 0);
  for (const flag of ['--service', '--app', '--inbound', '--outbound', '--admin', '--endpoint', '--collector', '--config', '--config-url', '--test-mode', 'MESHLET_PROXY_']) assert.ok(stdout.includes(flag), flag);
});

test('a bad config file is rejected with every problem listed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-proxy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sidecar.yaml');
  await writeFile(file, 'service: Bad_Name\napp: nope\nlimits:\n  maxHeaderCount: -1\n');
  const { code, stderr } = await run(['--config', file]);
  assert.equal(code, 2);
  assert.match(stderr, /service:/);
  assert.match(stderr, /app:/);
  assert.match(stderr, /limits\.maxHeaderCount:/);
  const usage = await run(['--service', 'a', '--app', '127.0.0.1:1', '--endpoint', 'payments']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--endpoint needs SERVICE=HOST:PORT/);
});

test('flags beat env beat file; SIGTERM drains and exits 0', async (t) => {
  const app = await echoApp();
  t.after(() => app.close());
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-proxy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sidecar.json');
  await writeFile(file, JSON.stringify({ service: 'from-file', app: '127.0.0.1:1', testMode: false }));
  const p = await spawnProxy(['--config', file, '--app', app.address, ...ports0], { MESHLET_PROXY_SERVICE: 'from-env', MESHLET_PROXY_APP: '127.0.0.1:2', MESHLET_PROXY_TEST_MODE: 'true' });
  t.after(() => p.child.kill('SIGKILL'));
  const cfg = (await get(`http://${p.admin}/config`)).json();
  assert.equal(cfg.service, 'from-env');
  assert.equal(cfg.app, app.address);
  assert.equal(cfg.testMode, true);
  assert.equal((await get(`http://${p.admin}/ready`)).status, 200);
  assert.equal((await get(`http://${p.inbound}/x`)).status, 200);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  assert.match(p.stdout(), /"msg":"access"/, 'access log on stdout');
});

test('--config-url: ready after the first config, revisions applied live, bad ones rejected', async (t) => {
  const appA = await startServer((_req, res) => res.end('A'));
  const appB = await startServer((_req, res) => res.end('B'));
  t.after(() => appA.close());
  t.after(() => appB.close());
  const streams = new Set<ServerResponse>();
  let current: unknown = null;
  const api = await startServer((req, res) => {
    if (current === null) {
      res.writeHead(503).end('not yet');
      return;
    }
    if (req.url?.includes('watch=1')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`: hello\n\nevent: config\ndata: ${JSON.stringify(current)}\n\n`);
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current));
  });
  t.after(() => api.close());
  const base = { service: 'orders', listen: { inbound: '127.0.0.1:0', outbound: '127.0.0.1:0' }, collector: null };
  const push = (cfg: unknown): void => {
    current = cfg;
    for (const s of streams) s.write(`event: config\ndata: ${JSON.stringify(cfg)}\n\n`);
  };
  // The admin address comes from flags (the runtime leaves the default); port 0 here.
  const pending = spawnProxy(['--config-url', `http://${api.address}/v1/pods/orders-1/config`, '--admin', '127.0.0.1:0']);
  await new Promise((r) => setTimeout(r, 300));
  push({ ...base, revision: 1, app: appA.address });
  const p = await pending;
  t.after(() => p.child.kill('SIGKILL'));
  assert.equal((await get(`http://${p.admin}/ready`)).status, 200);
  assert.equal((await get(`http://${p.inbound}/`)).text, 'A');

  const waitFor = async (check: () => Promise<boolean> | boolean): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor(() => streams.size > 0);
  push({ ...base, revision: 2, app: appB.address });
  await waitFor(async () => (await get(`http://${p.inbound}/`)).text === 'B');

  push({ ...base, revision: 3, app: 'not an address', limits: { maxHeaderCount: 0 } });
  await waitFor(() => p.stderr().includes('config rejected'));
  assert.match(p.stderr(), /app/);
  assert.match(p.stderr(), /limits\.maxHeaderCount/);
  assert.equal((await get(`http://${p.inbound}/`)).text, 'B', 'the old config stays');
  assert.match((await get(`http://${p.admin}/metrics`)).text, /meshlet_config_rejected_total 1/);

  // The stream breaks: the sidecar reconnects and picks up what changed meanwhile.
  current = { ...base, revision: 4, app: appA.address };
  for (const s of streams) s.destroy();
  await waitFor(async () => (await get(`http://${p.inbound}/`)).text === 'A');

  const shutdown = await get(`http://${p.admin}/shutdown`, {}, 'POST');
  assert.equal(shutdown.status, 202);
  assert.equal(await p.exited, 0);
});
