// The proxy benchmark (bench/README.md, "Proxy"): direct vs a meshlet sidecar pair (telemetry on and
// off) vs an nginx pair vs an haproxy pair, side by side in one run on loopback, all in front of the
// same nginx upstream. Saturation with wrk (32 connections), latency at fixed rates with the open-loop
// client in fixed-rate.ts, and each proxy's RSS and CPU from /proc.
//
//   client ──► [proxy A] ──► [proxy B] ──► upstream (nginx, `return 200`)
//
// Usage: node bench/proxy/run.ts [--seconds 10] [--only direct,meshlet,meshlet-off,meshlet-flags,naive,nginx,haproxy]
//          [--node-flags "--max-semi-space-size=4 ..."] [--before CHECKOUT] [--saturation-only] [--cpu-prof DIR] [--out FILE]
// `meshlet-flags` is one more telemetry-on pair whose Node runs with --node-flags (to compare V8 flags);
// with --before, one more telemetry-on pair runs `bin/meshlet.js` of another checkout (an older commit
// with its own node_modules), to measure a change side by side.
// The sidecars run what `meshlet proxy` runs: proxy/dist/main.js when built and up to date, else the
// .ts sources (MESHLET_SOURCES=1 forces them); the table says which.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fixedRate, type FixedRateResult } from './fixed-rate.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const SECONDS = Number(flag('--seconds') ?? 10);
const ONLY = flag('--only')?.split(',');
const CPU_PROF = flag('--cpu-prof');
const BEFORE = flag('--before');
/** Only wrk saturation, CPU and RSS (no fixed-rate phases): a quicker A/B of a change. */
const SATURATION_ONLY = args.includes('--saturation-only');
const NODE_FLAGS = flag('--node-flags')?.split(' ').filter((f) => f !== '') ?? [];
const OUT = flag('--out') ?? join(ROOT, 'bench', 'results', 'proxy.json');
const CLK_TCK = 100;

const children: ChildProcess[] = [];
let dir = '';
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));
// A reader that goes away (`| head`) must not end the run before its cleanup: the output is lost, the
// servers it started are still stopped.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function start(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
  child.on('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  children.push(child);
  return child;
}

async function procStat(pid: number): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { cpuSeconds: (Number(stat[11]) + Number(stat[12])) / CLK_TCK, rssBytes: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024 };
}

async function nginx(name: string, port: number, body: string): Promise<ChildProcess> {
  const base = join(dir, name);
  await mkdir(base, { recursive: true });
  const conf = join(base, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off; master_process off; worker_processes 1; pid ${base}/nginx.pid; error_log ${base}/error.log error;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${base}; proxy_temp_path ${base}; fastcgi_temp_path ${base}; uwsgi_temp_path ${base}; scgi_temp_path ${base};
  keepalive_requests 1000000;
  ${body}
}
`,
  );
  const child = start('nginx', ['-c', conf, '-p', base]);
  await waitPort(port);
  return child;
}

function nginxProxy(port: number, upstream: number): string {
  return `upstream up { server 127.0.0.1:${upstream}; keepalive 64; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } }`;
}

async function haproxy(name: string, port: number, upstream: number): Promise<ChildProcess> {
  const conf = join(dir, `${name}.cfg`);
  await writeFile(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend f
  bind 127.0.0.1:${port}
  default_backend b
backend b
  server s1 127.0.0.1:${upstream}
`,
  );
  const child = start('haproxy', ['-db', '-f', conf]);
  await waitPort(port);
  return child;
}

async function meshletPair(name: string, upstream: number, telemetry: boolean, sink: string, nodeFlags: string[] = [], checkout = ROOT): Promise<{ entry: number; procs: ChildProcess[] }> {
  const [bIn, bOut, bAdmin, aIn, aOut, aAdmin] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const common = (service: string) => ({
    service,
    collector: telemetry ? sink : null,
    telemetry: { spans: telemetry, metrics: telemetry, accessLog: telemetry },
  });
  const cfgB = join(dir, `${name}-b.json`);
  const cfgA = join(dir, `${name}-a.json`);
  await writeFile(cfgB, JSON.stringify({ ...common('up'), app: `127.0.0.1:${upstream}`, listen: { inbound: `127.0.0.1:${bIn}`, outbound: `127.0.0.1:${bOut}`, admin: `127.0.0.1:${bAdmin}` } }));
  await writeFile(
    cfgA,
    JSON.stringify({ ...common('client'), app: null, listen: { inbound: `127.0.0.1:${aIn}`, outbound: `127.0.0.1:${aOut}`, admin: `127.0.0.1:${aAdmin}` }, destinations: { up: { endpoints: [{ address: `127.0.0.1:${bIn}` }] } } }),
  );
  const node = process.execPath;
  const prof = (side: string) => (CPU_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `${name}-${side}.cpuprofile`]);
  const accessLog = (side: string) => (telemetry ? ['--access-log', join(dir, `${name}-${side}-access.log`)] : ['--no-access-log']);
  const b = start(node, [...nodeFlags, ...prof('b'), join(checkout, 'bin', 'meshlet.js'), 'proxy', '--config', cfgB, ...accessLog('b')]);
  const a = start(node, [...nodeFlags, ...prof('a'), join(checkout, 'bin', 'meshlet.js'), 'proxy', '--config', cfgA, ...accessLog('a')]);
  await Promise.all([waitPort(bIn), waitPort(aOut)]);
  return { entry: aOut, procs: [a, b] };
}

/** Which entry `meshlet proxy` runs here: the build (proxy/dist) or the .ts sources. */
async function sidecarBuild(): Promise<string> {
  if (process.env.MESHLET_SOURCES === '1') return 'the .ts sources (MESHLET_SOURCES=1)';
  try {
    const { builtAtMs, inputs } = JSON.parse(await readFile(join(ROOT, 'proxy', 'dist', 'inputs.json'), 'utf8')) as { builtAtMs: number; inputs: string[] };
    for (const input of inputs) if ((await stat(join(ROOT, input))).mtimeMs > builtAtMs) return 'the .ts sources (proxy/dist is stale)';
    return 'the build proxy/dist/main.js';
  } catch {
    return 'the .ts sources (not built)';
  }
}

/** A sink for the spans of "telemetry on": accepts OTLP/HTTP and discards it, in its own process. */
async function otlpSink(): Promise<string> {
  const port = await freePort();
  start(process.execPath, ['-e', `require('node:http').createServer((q,s)=>{q.resume();q.on('end',()=>s.writeHead(200,{'content-type':'application/x-protobuf'}).end())}).listen(${port},'127.0.0.1')`]);
  await waitPort(port);
  return `http://127.0.0.1:${port}`;
}

async function wrk(port: number, seconds: number): Promise<{ rps: number; requests: number; errors: number }> {
  const { stdout } = await run('wrk', ['-t2', '-c32', `-d${seconds}s`, '-H', 'Host: up', `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  return { rps, requests, errors };
}

interface Row {
  name: string;
  rps: number;
  errors: number;
  unfinished: number;
  fixed: FixedRateResult[];
  /** Per proxy process: idle RSS, peak RSS under saturation, CPU µs per request. */
  proxies: { idleRssMb: number; peakRssMb: number; cpuUsPerRequest: number }[];
}

async function measure(name: string, port: number, procs: ChildProcess[]): Promise<Row> {
  const pids = procs.map((p) => p.pid as number);
  // Warm up connections and JITs.
  await wrk(port, 2);
  await new Promise((r) => setTimeout(r, 1500));
  const idle = await Promise.all(pids.map(procStat));
  const before = await Promise.all(pids.map(procStat));
  const peak = idle.map((s) => s.rssBytes);
  const sampler = setInterval(() => {
    pids.forEach((pid, i) => void procStat(pid).then((s) => (peak[i] = Math.max(peak[i] as number, s.rssBytes)), () => {}));
  }, 200);
  const sat = await wrk(port, SECONDS);
  clearInterval(sampler);
  const after = await Promise.all(pids.map(procStat));
  const fixed: FixedRateResult[] = [];
  for (const rate of SATURATION_ONLY ? [] : [1000, 4000]) fixed.push(await fixedRate({ url: `http://127.0.0.1:${port}/`, host: 'up', rate, durationMs: SECONDS * 1000, connections: 32 }));
  const row: Row = {
    name,
    rps: sat.rps,
    errors: sat.errors + fixed.reduce((n, f) => n + f.errors, 0),
    unfinished: fixed.reduce((n, f) => n + f.unfinished, 0),
    fixed,
    proxies: pids.map((_, i) => ({
      idleRssMb: (idle[i] as { rssBytes: number }).rssBytes / 2 ** 20,
      peakRssMb: (peak[i] as number) / 2 ** 20,
      cpuUsPerRequest: (((after[i] as { cpuSeconds: number }).cpuSeconds - (before[i] as { cpuSeconds: number }).cpuSeconds) / sat.requests) * 1e6,
    })),
  };
  process.stderr.write(`${name}: ${JSON.stringify(row)}\n`);
  return row;
}

function stop(procs: ChildProcess[]): Promise<void> {
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
          setTimeout(() => p.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  ).then(() => {});
}

const us = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)}` : '–');

function table(rows: Row[]): string {
  const direct = rows.find((r) => r.name === 'direct');
  const nginxRow = rows.find((r) => r.name === 'nginx pair');
  const lines = [
    '| configuration | req/s (wrk, 32 conn) | vs nginx pair | 1k/s p50 µs | 1k/s p99 µs | 1k/s p99.9 µs | 4k/s p50 µs | 4k/s p99 µs | 4k/s p99.9 µs | added p50 / p99 at 1k/s (µs) | CPU µs/req per proxy | RSS idle → peak MB per proxy | errors / unanswered |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const [k1, k4] = r.fixed;
    const added = direct !== undefined && r !== direct && k1 !== undefined ? `${us(k1.p50 - (direct.fixed[0]?.p50 ?? NaN))} / ${us(k1.p99 - (direct.fixed[0]?.p99 ?? NaN))}` : '–';
    lines.push(
      `| ${r.name} | ${Math.round(r.rps)} | ${nginxRow === undefined ? '–' : `${Math.round((r.rps / nginxRow.rps) * 100)} %`} | ${us(k1?.p50 ?? NaN)} | ${us(k1?.p99 ?? NaN)} | ${us(k1?.p999 ?? NaN)} | ${us(k4?.p50 ?? NaN)} | ${us(k4?.p99 ?? NaN)} | ${us(k4?.p999 ?? NaN)} | ${added} | ${r.proxies.map((p) => p.cpuUsPerRequest.toFixed(0)).join(' / ') || '–'} | ${r.proxies.map((p) => `${p.idleRssMb.toFixed(0)} → ${p.peakRssMb.toFixed(0)}`).join(' / ') || '–'} | ${r.errors} / ${r.unfinished} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-bench-proxy-'));
  const loadBefore = loadavg()[0] as number;
  const sidecarEntry = await sidecarBuild();
  if (CPU_PROF !== undefined) await mkdir(CPU_PROF, { recursive: true });
  const upstreamPort = await freePort();
  const upstream = await nginx('upstream', upstreamPort, `server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "hello from upstream\\n"; } }`);
  const sink = await otlpSink();
  const rows: Row[] = [];
  const want = (key: string): boolean => ONLY === undefined || ONLY.includes(key);

  if (want('direct')) rows.push(await measure('direct', upstreamPort, []));
  if (BEFORE !== undefined) {
    const pair = await meshletPair('meshlet-before', upstreamPort, true, sink, [], BEFORE);
    rows.push(await measure(`meshlet pair (telemetry on), before: ${BEFORE}`, pair.entry, pair.procs));
    await stop(pair.procs);
  }
  if (want('meshlet')) {
    const pair = await meshletPair('meshlet', upstreamPort, true, sink);
    rows.push(await measure('meshlet pair (telemetry on)', pair.entry, pair.procs));
    await stop(pair.procs);
  }
  if (want('meshlet-flags')) {
    const pair = await meshletPair('meshlet-flags', upstreamPort, true, sink, NODE_FLAGS);
    rows.push(await measure(`meshlet pair (telemetry on, ${NODE_FLAGS.join(' ')})`, pair.entry, pair.procs));
    await stop(pair.procs);
  }
  if (want('meshlet-off')) {
    const pair = await meshletPair('meshlet-off', upstreamPort, false, sink);
    rows.push(await measure('meshlet pair (telemetry off)', pair.entry, pair.procs));
    await stop(pair.procs);
  }
  if (want('naive')) {
    const [pa, pb] = [await freePort(), await freePort()];
    const naive = join(import.meta.dirname, 'naive-proxy.ts');
    const b = start(process.execPath, [naive, String(pb), `127.0.0.1:${upstreamPort}`]);
    const a = start(process.execPath, [naive, String(pa), `127.0.0.1:${pb}`]);
    await Promise.all([waitPort(pa), waitPort(pb)]);
    rows.push(await measure('naive undici pair (no layers, no telemetry)', pa, [a, b]));
    await stop([a, b]);
  }
  if (want('nginx')) {
    const [pa, pb] = [await freePort(), await freePort()];
    const b = await nginx('nginx-b', pb, nginxProxy(pb, upstreamPort));
    const a = await nginx('nginx-a', pa, nginxProxy(pa, pb));
    rows.push(await measure('nginx pair', pa, [a, b]));
    await stop([a, b]);
  }
  if (want('haproxy')) {
    const [pa, pb] = [await freePort(), await freePort()];
    const b = await haproxy('haproxy-b', pb, upstreamPort);
    const a = await haproxy('haproxy-a', pa, pb);
    rows.push(await measure('haproxy pair', pa, [a, b]));
    await stop([a, b]);
  }
  void upstream;
  const md = table(rows);
  await mkdir(join(OUT, '..'), { recursive: true });
  const load = `1-min load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] as number).toFixed(2)} after`;
  await writeFile(OUT, JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, sidecarEntry, load, nodeFlags: NODE_FLAGS, rows }, null, 2));
  process.stdout.write(`${md}\n\nmeshlet sidecars ran ${sidecarEntry}; ${load}; ${SECONDS} s per phase.\n`);
}

try {
  await main();
} finally {
  await cleanup();
}
