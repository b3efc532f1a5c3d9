// The runtime benchmark (bench/README.md, "Runtime"), as root: time from `meshlet up` to every pod
// ready for a 10-pod mesh, next to two baselines measured in the same run — the 10 apps started
// alone, and 10 standalone sidecars (`meshlet proxy`) started alone — and the idle cost of a sidecar
// in a pod (RSS, CPU over a quiet window) next to a bare Node process and a standalone sidecar.
//
//   baseline apps      10 × `node app.js` at once              → until every port accepts
//   baseline sidecars  10 × `meshlet proxy` at once            → until every /ready answers 200
//   mesh               `meshlet up -d` (daemon, bridge, netns, veths, iptables, runc, sidecars, apps)
//                                                               → returns when every pod is ready
//
// Usage: node bench/runtime/run.ts [--pods 10] [--rounds 3] [--idle-seconds 20] [--collector] [--out FILE] [--meshlet PATH]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
/** `--meshlet PATH`: another checkout's `bin/meshlet.js`, for a side-by-side run of two builds. */
const MESHLET = flag('--meshlet') ?? join(ROOT, 'bin', 'meshlet.js');
const PODS = Number(flag('--pods') ?? 10);
const ROUNDS = Number(flag('--rounds') ?? 3);
const IDLE_SECONDS = Number(flag('--idle-seconds') ?? 20);
const WITH_COLLECTOR = args.includes('--collector');
const OUT = flag('--out') ?? join(ROOT, 'bench', 'results', 'runtime.json');
const CLK_TCK = 100;

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/runtime: needs root (it creates a real mesh: netns, veths, a bridge, iptables, runc)\n');
  process.exit(1);
}

const APP = `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST || '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));`;

const children: ChildProcess[] = [];
let dir = '';
let stateDir = '';
const cleanup = async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (stateDir !== '') await cli(['down']).catch(() => undefined);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));
// A reader that goes away (`| head`) must not end the run before its cleanup: the output is lost, the
// servers it started are still stopped.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MESHLET, ...argv], { cwd: dir, env: { ...process.env, MESHLET_RUNTIME_STATE_DIR: stateDir, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

const tcpOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

const httpOk = (url: string) => fetch(url).then((r) => r.status === 200, () => false);

/**
 * A process's memory in MB: RSS (what the target names), PSS (shared pages — the `node` binary's, ~35–45
 * MB in every Node process — divided among the processes mapping them: what each adds to the host) and
 * private anonymous memory (its own heap and buffers), from /proc/<pid>/smaps_rollup.
 */
async function memoryMb(pid: number): Promise<{ rss: number; pss: number; anon: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) / 1024;
  return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Anonymous') };
}

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** A cgroup's CPU time in seconds (v1 cpuacct, else v2 cpu.stat), 0 when it does not exist. */
async function cgroupCpuSeconds(rel: string): Promise<number> {
  const v1 = await readFile(`/sys/fs/cgroup/cpuacct/${rel}/cpuacct.usage`, 'utf8').catch(() => undefined);
  if (v1 !== undefined) return Number(v1) / 1e9;
  const v2 = await readFile(`/sys/fs/cgroup/${rel}/cpu.stat`, 'utf8').catch(() => '');
  return Number(/^usage_usec (\d+)/m.exec(v2)?.[1] ?? 0) / 1e6;
}

/** The daemon's CPU seconds, its own and its reaped children's (ip, iptables, runc), or 0 when none runs. */
async function daemonCpuSeconds(): Promise<{ self: number; children: number; pid: number }> {
  const pid = Number(await readFile(join(stateDir, 'daemon.pid'), 'utf8').catch(() => '0'));
  const stat = pid > 0 ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') : '';
  if (stat === '') return { self: 0, children: 0, pid: 0 };
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (Number(f[11]) + Number(f[12])) / CLK_TCK, children: (Number(f[13]) + Number(f[14])) / CLK_TCK, pid };
}

/** Where the CPU of one `up` went, in CPU-seconds (read right after it returned, before `down`). */
interface UpCpu {
  sidecars: number;
  apps: number;
  daemon: number;
  daemonChildren: number;
}

const median = (xs: number[]) => (xs.length === 0 ? Number.NaN : ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number));

/** N apps at once, until every port accepts. */
async function baselineApps(n: number): Promise<number> {
  const ports = await Promise.all(Array.from({ length: n }, freePort));
  const t0 = performance.now();
  const procs = ports.map((port) => spawn(process.execPath, [join(dir, 'app.js')], { env: { PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' }));
  children.push(...procs);
  await Promise.all(ports.map((p) => until(() => tcpOpen(p))));
  const ms = performance.now() - t0;
  for (const p of procs) p.kill('SIGKILL');
  return ms;
}

/** N standalone sidecars at once, until every /ready answers. */
async function baselineSidecars(n: number, keep = false): Promise<{ ms: number; cpu: number; pids: number[] }> {
  const admins = await Promise.all(Array.from({ length: n }, freePort));
  const t0 = performance.now();
  const procs = admins.map((admin, i) =>
    spawn(process.execPath, [MESHLET, 'proxy', '--service', `s${i}`, '--app', '127.0.0.1:9', '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', `127.0.0.1:${admin}`], {
      env: { ...process.env, NODE_COMPILE_CACHE: join(dir, 'compile-cache') },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  children.push(...procs);
  const stderr = procs.map((p) => {
    let text = '';
    p.stderr?.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-2000)));
    return () => text;
  });
  // A sidecar that exits (its admin port, picked free a moment before, taken by another process in the
  // meantime) fails the run at once with what it said, instead of after the 5-minute wait.
  const ready = (i: number) => async () => {
    const p = procs[i] as ChildProcess;
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`standalone sidecar s${i} exited (${p.exitCode ?? p.signalCode}) before it was ready: ${(stderr[i] as () => string)().trim()}`);
    return httpOk(`http://127.0.0.1:${admins[i] as number}/ready`);
  };
  await Promise.all(admins.map((_, i) => until(ready(i))));
  const ms = performance.now() - t0;
  const cpu = (await Promise.all(procs.map((p) => cpuSeconds(p.pid as number)))).reduce((a, b) => a + b, 0);
  if (!keep) for (const p of procs) p.kill('SIGKILL');
  return { ms, cpu, pids: procs.map((p) => p.pid as number) };
}

interface PodRow {
  name: string;
  ready: boolean;
  sidecarPid?: number;
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-bench-runtime-'));
  // mkdtemp makes the directory 0700; the pod sidecars run as uid 1337 and keep their V8 compile cache
  // under the state directory inside it (as under /var/lib/meshlet, 0755, outside the bench). Without
  // this they could not reach it, so every pod sidecar compiled its bundle cold.
  await chmod(dir, 0o755);
  stateDir = join(dir, 'state');
  await writeFile(join(dir, 'app.js'), APP);
  const id = randomBytes(3).toString('hex');
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  let octet = 200;
  while (routes.includes(`10.${octet}.`)) octet++;
  const services = Math.ceil(PODS / 2);
  const spec = (collector: boolean) => `name: bench${id}
network: { bridge: mlb${id}, subnet: 10.${octet}.0.0/24, vip_range: 10.${octet}.1.0/24 }
telemetry: { collector: ${collector ? 'auto' : 'none'}, ui: "127.0.0.1:0" }
services:
${Array.from({ length: services }, (_, i) => `  svc${i}:\n    command: ["node", "app.js"]\n    port: ${8080 + i}\n    replicas: ${Math.min(2, PODS - i * 2)}\n`).join('')}`;
  await writeFile(join(dir, 'mesh.yaml'), spec(false));
  await writeFile(join(dir, 'mesh-collector.yaml'), spec(true));
  await mkdir(join(dir, 'compile-cache'));

  // Warm-up: one of each, so every variant starts with the same disk cache and compile cache.
  await baselineSidecars(1);
  const warm = await cli(['up', '-d', '-f', 'mesh.yaml']);
  if (warm.code !== 0) throw new Error(`meshlet up failed: ${warm.stderr}`);
  await cli(['down']);

  const apps: number[] = [];
  const sidecars: number[] = [];
  const mesh: number[] = [];
  const down: number[] = [];
  const meshCollector: number[] = [];
  const failures: string[] = [];
  const upCpu: UpCpu[] = [];
  /** CPU-seconds of the standalone sidecars of each round, until all were ready. */
  const sidecarsCpu: number[] = [];
  /** `up`, timed; a pod that fails is recorded (with `ps -o wide`) and the round does not count. */
  const timedUp = async (file: string, into: number[]) => {
    const d0 = await daemonCpuSeconds();
    const up = await cli(['up', '-d', '-f', file]);
    if (up.code === 0) {
      into.push(up.ms);
      // The daemon may be the previous round's (it exits once idle), so only what this `up` added counts.
      const d1 = await daemonCpuSeconds();
      const same = d1.pid === d0.pid;
      const pods = (JSON.parse((await cli(['ps', '-o', 'json'])).stdout) as { name: string; pods: PodRow[] }[])[0];
      const cg = (pod: string, kind: string) => cgroupCpuSeconds(`meshlet/${pods?.name ?? ''}/${pod}/${kind}`);
      const sum = async (kind: string) => (await Promise.all((pods?.pods ?? []).map((p) => cg(p.name, kind)))).reduce((a, b) => a + b, 0);
      upCpu.push({ sidecars: await sum('sidecar'), apps: await sum('app'), daemon: d1.self - (same ? d0.self : 0), daemonChildren: d1.children - (same ? d0.children : 0) });
    } else failures.push(`${file}: ${up.stderr.trim()}\n${(await cli(['ps', '-o', 'wide'])).stdout}`);
    const d = await cli(['down']);
    return d.ms;
  };
  for (let r = 0; r < ROUNDS; r++) {
    apps.push(await baselineApps(PODS));
    const alone = await baselineSidecars(PODS);
    sidecars.push(alone.ms);
    sidecarsCpu.push(alone.cpu);
    down.push(await timedUp('mesh.yaml', mesh));
    if (WITH_COLLECTOR) await timedUp('mesh-collector.yaml', meshCollector);
    const c = upCpu.at(-1);
    process.stderr.write(
      `round ${r + 1}: apps ${apps.at(-1)?.toFixed(0)} ms, sidecars ${sidecars.at(-1)?.toFixed(0)} ms (${sidecarsCpu.at(-1)?.toFixed(2)} CPU-s), mesh up ${mesh.at(-1)?.toFixed(0)} ms, down ${down.at(-1)?.toFixed(0)} ms${WITH_COLLECTOR ? `, with collector ${meshCollector.at(-1)?.toFixed(0)} ms` : ''}` +
        `${c === undefined ? '' : `; up CPU-s: sidecars ${c.sidecars.toFixed(2)}, apps ${c.apps.toFixed(2)}, daemon ${c.daemon.toFixed(2)} + its tools ${c.daemonChildren.toFixed(2)}`}\n`,
    );
  }

  // Idle cost: the mesh up and quiet, a standalone sidecar and a bare Node process beside it.
  const up = await cli(['up', '-d', '-f', 'mesh.yaml']);
  if (up.code !== 0) throw new Error(`meshlet up failed: ${up.stderr}`);
  const pods = (JSON.parse((await cli(['ps', '-o', 'json'])).stdout) as { pods: PodRow[] }[])[0]?.pods ?? [];
  const standalone = await baselineSidecars(1, true);
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(bare);
  await sleep(5_000); // settle after start
  const watched = [...pods.map((p) => ({ what: `pod ${p.name}`, pid: p.sidecarPid as number })), { what: 'standalone sidecar', pid: standalone.pids[0] as number }, { what: 'bare node', pid: bare.pid as number }];
  const cpu0 = await Promise.all(watched.map((w) => cpuSeconds(w.pid)));
  const t0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = await Promise.all(watched.map((w) => cpuSeconds(w.pid)));
  const memory = await Promise.all(watched.map((w) => memoryMb(w.pid)));
  const idle = watched.map((w, i) => {
    const mem = memory[i] as { rss: number; pss: number; anon: number };
    return { what: w.what, rssMb: mem.rss, pssMb: mem.pss, anonMb: mem.anon, cpuPercentOfCore: (((cpu1[i] as number) - (cpu0[i] as number)) / elapsed) * 100 };
  });
  const podIdle = idle.filter((x) => x.what.startsWith('pod '));

  const result = {
    when: new Date().toISOString(),
    meshlet: MESHLET,
    machine: { cpus: (await import('node:os')).availableParallelism(), loadAverage: (await import('node:os')).loadavg() },
    pods: PODS,
    rounds: ROUNDS,
    failures,
    startMs: { appsAlone: apps, sidecarsAlone: sidecars, meshUp: mesh, meshDown: down, ...(WITH_COLLECTOR ? { meshUpWithCollector: meshCollector } : {}) },
    sidecarsAloneCpuSeconds: sidecarsCpu,
    upCpuSeconds: upCpu,
    medianUpCpuSeconds: { sidecars: median(upCpu.map((c) => c.sidecars)), apps: median(upCpu.map((c) => c.apps)), daemon: median(upCpu.map((c) => c.daemon)), daemonChildren: median(upCpu.map((c) => c.daemonChildren)) },
    median: { appsAlone: median(apps), sidecarsAlone: median(sidecars), meshUp: median(mesh), meshDown: median(down), ...(WITH_COLLECTOR ? { meshUpWithCollector: median(meshCollector) } : {}) },
    idle: { seconds: IDLE_SECONDS, rows: idle, podSidecarMedianRssMb: median(podIdle.map((x) => x.rssMb)), podSidecarMedianPssMb: median(podIdle.map((x) => x.pssMb)), podSidecarMedianAnonMb: median(podIdle.map((x) => x.anonMb)), podSidecarMedianCpuPercent: median(podIdle.map((x) => x.cpuPercentOfCore)) },
  };
  await mkdir(join(OUT, '..'), { recursive: true });
  await writeFile(OUT, `${JSON.stringify(result, null, 2)}\n`);
  const m = result.median;
  process.stdout.write(
    [
      `| ${PODS} pods, median of ${ROUNDS} | time to ready |`,
      '| --- | ---: |',
      `| apps alone (baseline) | ${m.appsAlone.toFixed(0)} ms |`,
      `| sidecars alone (baseline) | ${m.sidecarsAlone.toFixed(0)} ms (${median(sidecarsCpu).toFixed(2)} CPU-s) |`,
      `| \`meshlet up -d\` (collector none) | ${m.meshUp.toFixed(0)} ms |`,
      ...(WITH_COLLECTOR ? [`| \`meshlet up -d\` (collector auto) | ${(m as { meshUpWithCollector: number }).meshUpWithCollector.toFixed(0)} ms |`] : []),
      `| \`meshlet down\` | ${m.meshDown.toFixed(0)} ms |`,
      '',
      `| CPU of one \`up\` (median of ${upCpu.length}) | sidecars | apps (with runc init) | daemon | daemon's tools (ip, iptables, runc) |`,
      '| --- | ---: | ---: | ---: | ---: |',
      `| CPU-seconds | ${result.medianUpCpuSeconds.sidecars.toFixed(2)} | ${result.medianUpCpuSeconds.apps.toFixed(2)} | ${result.medianUpCpuSeconds.daemon.toFixed(2)} | ${result.medianUpCpuSeconds.daemonChildren.toFixed(2)} |`,
      '',
      `| idle ${IDLE_SECONDS} s | RSS | PSS | private (anon) | CPU (% of a core) |`,
      '| --- | ---: | ---: | ---: | ---: |',
      `| sidecar in a pod (median of ${podIdle.length}) | ${result.idle.podSidecarMedianRssMb.toFixed(1)} MB | ${result.idle.podSidecarMedianPssMb.toFixed(1)} MB | ${result.idle.podSidecarMedianAnonMb.toFixed(1)} MB | ${result.idle.podSidecarMedianCpuPercent.toFixed(2)} % |`,
      ...idle.filter((x) => !x.what.startsWith('pod ')).map((x) => `| ${x.what} | ${x.rssMb.toFixed(1)} MB | ${x.pssMb.toFixed(1)} MB | ${x.anonMb.toFixed(1)} MB | ${x.cpuPercentOfCore.toFixed(2)} % |`),
      `load average during the run: ${result.machine.loadAverage.map((l) => l.toFixed(1)).join(' ')} on ${result.machine.cpus} CPUs`,
      '',
    ].join('\n'),
  );
}

try {
  await main();
} finally {
  await cleanup();
}
