// The sidecar start-up benchmark (bench/README.md, "Sidecar start-up"): what one `meshlet proxy` costs
// to start and to keep, side by side with another checkout (`--base`, e.g. main's build) in the same run.
//
//   alone      one standalone sidecar at a time (flags only)      → time to /ready, CPU-s at ready
//   ten        10 standalone sidecars at once                     → time until all are ready, CPU-s
//   pods       10 sidecars at once following a config API served here (as `meshlet up` starts them:
//              --config-url, a GET then a server-sent-event stream), then `--updates` config pushes to
//              each that only add an endpoint (as while the other pods come up)
//                                                                 → ready, CPU-s at ready, per update
//   idle       the pod sidecars and one standalone sidecar after `--idle-seconds` → RSS, PSS, private
//              (anonymous) memory from /proc/<pid>/smaps_rollup, CPU % over the idle window
//
// Every variant runs with the same compile-cache directory of its own, warmed by one start first;
// the rounds interleave the variants. Each sidecar runs as the runtime starts it:
// `node <the runtime's sidecar flags> <checkout>/bin/meshlet.js proxy ...`.
//
// Usage: node bench/proxy/startup.ts [--base CHECKOUT] [--rounds 5] [--updates 6] [--idle-seconds 10]
//          [--node-flags "..."] [--out FILE]
// `--node-flags` adds a third variant: this checkout with extra Node flags (to compare V8 flags).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const BASE = flag('--base');
const ROUNDS = Number(flag('--rounds') ?? 5);
const UPDATES = Number(flag('--updates') ?? 6);
const IDLE_SECONDS = Number(flag('--idle-seconds') ?? 10);
const NODE_FLAGS = flag('--node-flags')?.split(' ').filter((f) => f !== '') ?? [];
const OUT = flag('--out') ?? join(ROOT, 'bench', 'results', 'startup.json');
const PODS = 10;
/**
 * The V8 flags the runtime gives its sidecars (runtime/src/mesh.ts, sidecarArgv; bin/meshlet.js
 * `nodeFlags`). A sidecar started without one of them re-executes itself to add it: a second Node start.
 */
const SIDECAR_NODE_FLAGS = ['--max-semi-space-size=2', '--wasm-tiering-budget=130000000'];
const CLK_TCK = 100;

interface Variant {
  name: string;
  checkout: string;
  nodeFlags: string[];
  cache: string;
}

const children: ChildProcess[] = [];
let dir = '';
let configServer: http.Server | null = null;
const cleanup = async (): Promise<void> => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  configServer?.closeAllConnections();
  configServer?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/**
 * A free port for a sidecar's admin listener, below Linux's ephemeral range (32768–60999) that the
 * sidecars' own `127.0.0.1:0` listeners draw from, so one of them cannot take it before its sidecar binds.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ready = (port: number) =>
  new Promise<boolean>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ready', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });

async function untilReady(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = readFileSync(logs.get(child) as string, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new Error(`sidecar exited (${child.exitCode ?? child.signalCode}) before it was ready; its last log lines:\n${log}`);
    }
    if (Date.now() > deadline) throw new Error('sidecar not ready in time');
    await sleep(5);
  }
}

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function memoryMb(pid: number): Promise<{ rss: number; pss: number; anon: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) / 1024;
  return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Anonymous') };
}

const median = (xs: number[]) => (xs.length === 0 ? Number.NaN : ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number));

/** Each sidecar's stderr (its operational log), shown when it fails. */
const logs = new Map<ChildProcess, string>();
function start(v: Variant, proxyArgs: string[]): ChildProcess {
  const log = join(dir, `sidecar-${children.length}.log`);
  const fd = openSync(log, 'w');
  const child = spawn(process.execPath, [...SIDECAR_NODE_FLAGS, ...v.nodeFlags, join(v.checkout, 'bin', 'meshlet.js'), 'proxy', ...proxyArgs], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', NODE_COMPILE_CACHE: v.cache },
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  children.push(child);
  logs.set(child, log);
  return child;
}

const standaloneArgs = (i: number, admin: number) => ['--service', `s${i}`, '--app', '127.0.0.1:9', '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', `127.0.0.1:${admin}`];

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}

/** One standalone sidecar: time to ready and CPU-s at ready. */
async function alone(v: Variant): Promise<{ ms: number; cpu: number }> {
  const admin = await freePort();
  const t0 = performance.now();
  const c = start(v, standaloneArgs(0, admin));
  await untilReady(admin, c);
  const ms = performance.now() - t0;
  const cpu = await cpuSeconds(c.pid as number);
  await stop([c]);
  return { ms, cpu };
}

/** Ten standalone sidecars at once. */
async function ten(v: Variant, keep = false): Promise<{ ms: number; cpu: number; procs: ChildProcess[] }> {
  const admins = await Promise.all(Array.from({ length: PODS }, freePort));
  const t0 = performance.now();
  const procs = admins.map((a, i) => start(v, standaloneArgs(i, a)));
  await Promise.all(admins.map((a, i) => untilReady(a, procs[i] as ChildProcess)));
  const ms = performance.now() - t0;
  const cpu = (await Promise.all(procs.map((p) => cpuSeconds(p.pid as number)))).reduce((a, b) => a + b, 0);
  if (!keep) await stop(procs);
  return { ms, cpu, procs };
}

// The config API: per pod a config; GET answers it, ?watch=1 streams it (and every change).
const configs = new Map<string, Record<string, unknown>>();
const streams = new Map<string, Set<http.ServerResponse>>();
function serveConfig(): Promise<number> {
  configServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const pod = /^\/v1\/pods\/([^/]+)\/config$/.exec(url.pathname)?.[1];
    const cfg = pod === undefined ? undefined : configs.get(pod);
    if (pod === undefined || cfg === undefined) {
      res.writeHead(404).end('no such pod\n');
      return;
    }
    if (url.searchParams.get('watch') !== '1') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(cfg));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(`event: config\ndata: ${JSON.stringify(cfg)}\n\n`);
    const set = streams.get(pod) ?? new Set();
    streams.set(pod, set);
    set.add(res);
    res.on('close', () => set.delete(res));
  });
  return new Promise((resolve) => configServer?.listen(0, '127.0.0.1', () => resolve((configServer?.address() as net.AddressInfo).port)));
}

/** A pod's config with the first `endpoints` endpoints of 5 services × 2 replicas known. */
function podConfig(pod: number, revision: number, endpoints: number): Record<string, unknown> {
  const destinations: Record<string, unknown> = {};
  for (let s = 0; s < PODS / 2; s++) {
    const eps = [];
    for (let r = 0; r < 2; r++) {
      const i = s * 2 + r;
      if (i < endpoints) eps.push({ address: `127.0.0.1:${20000 + i}`, pod: `svc${s}-${r}`, ready: true });
    }
    destinations[`svc${s}`] = { vip: `10.99.1.${s + 1}`, port: 8080 + s, endpoints: eps };
  }
  return {
    revision,
    mesh: 'bench',
    service: `svc${Math.floor(pod / 2)}`,
    pod: `pod${pod}`,
    podIp: '127.0.0.1',
    app: '127.0.0.1:9',
    listen: { inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0' },
    destinations,
  };
}

function push(pod: string, cfg: Record<string, unknown>): void {
  configs.set(pod, cfg);
  for (const res of streams.get(pod) ?? []) res.write(`event: config\ndata: ${JSON.stringify(cfg)}\n\n`);
}

/** Ten sidecars following the config API, then UPDATES endpoint-only pushes to each. */
async function pods(v: Variant, apiPort: number, keep = false): Promise<{ ms: number; cpu: number; cpuPerUpdate: number; procs: ChildProcess[] }> {
  for (let i = 0; i < PODS; i++) configs.set(`pod${i}`, podConfig(i, 1, 0));
  const admins = await Promise.all(Array.from({ length: PODS }, freePort));
  const t0 = performance.now();
  const procs = admins.map((a, i) => start(v, ['--config-url', `http://127.0.0.1:${apiPort}/v1/pods/pod${i}/config`, '--admin', `127.0.0.1:${a}`]));
  await Promise.all(admins.map((a, i) => untilReady(a, procs[i] as ChildProcess)));
  const ms = performance.now() - t0;
  const pids = procs.map((p) => p.pid as number);
  const total = async () => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  // Let the watch streams connect before pushing.
  await sleep(300);
  const cpu = await total();
  for (let u = 1; u <= UPDATES; u++) {
    for (let i = 0; i < PODS; i++) push(`pod${i}`, podConfig(i, 1 + u, u));
    await sleep(150);
  }
  await sleep(300);
  const cpuPerUpdate = ((await total()) - cpu) / (PODS * UPDATES);
  if (!keep) await stop(procs);
  return { ms, cpu, cpuPerUpdate, procs };
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-bench-startup-'));
  const variants: Variant[] = [{ name: 'this', checkout: ROOT, nodeFlags: [], cache: join(dir, 'cache-this') }];
  if (BASE !== undefined) variants.unshift({ name: 'base', checkout: BASE, nodeFlags: [], cache: join(dir, 'cache-base') });
  if (NODE_FLAGS.length > 0) variants.push({ name: `this ${NODE_FLAGS.join(' ')}`, checkout: ROOT, nodeFlags: NODE_FLAGS, cache: join(dir, 'cache-flags') });
  for (const v of variants) await mkdir(v.cache);
  const apiPort = await serveConfig();
  const loadBefore = loadavg()[0] as number;

  for (const v of variants) await alone(v); // warm the compile cache and the disk cache
  const rows = new Map(variants.map((v) => [v.name, { aloneMs: [] as number[], aloneCpu: [] as number[], tenMs: [] as number[], tenCpu: [] as number[], podsMs: [] as number[], podsCpu: [] as number[], updateCpu: [] as number[] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      const row = rows.get(v.name)!;
      const a = await alone(v);
      row.aloneMs.push(a.ms);
      row.aloneCpu.push(a.cpu);
    }
    for (const v of variants) {
      const row = rows.get(v.name)!;
      const t = await ten(v);
      row.tenMs.push(t.ms);
      row.tenCpu.push(t.cpu);
      await sleep(200);
      const p = await pods(v, apiPort);
      row.podsMs.push(p.ms);
      row.podsCpu.push(p.cpu);
      row.updateCpu.push(p.cpuPerUpdate);
      await sleep(200);
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
  }

  // Idle: every variant's 10 pod sidecars (after the updates) and one standalone sidecar, at once.
  const idle = new Map<string, { pod: ChildProcess[]; standalone: ChildProcess }>();
  for (const v of variants) {
    const p = await pods(v, apiPort, true);
    const s = await ten(v, true);
    await stop(s.procs.slice(1));
    idle.set(v.name, { pod: p.procs, standalone: s.procs[0] as ChildProcess });
  }
  await sleep(2_000);
  const cpuAt = new Map<number, number>();
  const all = [...idle.values()].flatMap((x) => [...x.pod, x.standalone]);
  for (const c of all) cpuAt.set(c.pid as number, await cpuSeconds(c.pid as number));
  const t0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const idleRows = new Map<string, { pod: { rss: number; pss: number; anon: number; cpu: number }; standalone: { rss: number; pss: number; anon: number; cpu: number } }>();
  const measure = async (c: ChildProcess) => ({ ...(await memoryMb(c.pid as number)), cpu: (((await cpuSeconds(c.pid as number)) - (cpuAt.get(c.pid as number) as number)) / seconds) * 100 });
  for (const [name, x] of idle) {
    const podRows = await Promise.all(x.pod.map(measure));
    const pick = (k: 'rss' | 'pss' | 'anon' | 'cpu') => median(podRows.map((p) => p[k]));
    idleRows.set(name, { pod: { rss: pick('rss'), pss: pick('pss'), anon: pick('anon'), cpu: pick('cpu') }, standalone: await measure(x.standalone) });
  }
  const loadAfter = loadavg()[0] as number;
  await stop(all);

  const f1 = (n: number) => n.toFixed(1);
  const f2 = (n: number) => n.toFixed(2);
  const lines = [
    `Sidecar start-up, median of ${ROUNDS} rounds (1-min load average ${f2(loadBefore)} before, ${f2(loadAfter)} after)`,
    '',
    `| variant | alone: ready | alone: CPU-s | 10 at once: all ready | 10: CPU-s | 10 pods: all ready | 10 pods: CPU-s at ready | CPU-ms per endpoint update |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows].map(([name, r]) => `| ${name} | ${median(r.aloneMs).toFixed(0)} ms | ${f2(median(r.aloneCpu))} | ${median(r.tenMs).toFixed(0)} ms | ${f2(median(r.tenCpu))} | ${median(r.podsMs).toFixed(0)} ms | ${f2(median(r.podsCpu))} | ${f1(median(r.updateCpu) * 1000)} |`),
    '',
    `Idle ${IDLE_SECONDS} s (pod sidecars: median of ${PODS}, after ${UPDATES} updates)`,
    '',
    '| variant | pod: RSS | PSS | private | CPU | standalone: RSS | PSS | private | CPU |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...idleRows].map(([name, r]) => `| ${name} | ${f1(r.pod.rss)} MB | ${f1(r.pod.pss)} MB | ${f1(r.pod.anon)} MB | ${f2(r.pod.cpu)} % | ${f1(r.standalone.rss)} MB | ${f1(r.standalone.pss)} MB | ${f1(r.standalone.anon)} MB | ${f2(r.standalone.cpu)} % |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await mkdir(join(OUT, '..'), { recursive: true });
  await writeFile(OUT, `${JSON.stringify({ at: new Date().toISOString(), loadBefore, loadAfter, rounds: ROUNDS, updates: UPDATES, variants, start: Object.fromEntries(rows), idle: Object.fromEntries(idleRows) }, null, 1)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/proxy/startup: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());
