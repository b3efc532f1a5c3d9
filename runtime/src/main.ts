// `meshlet <verb>` for the runtime: up, down, ps, logs, exec, inspect, top, stats, stop, start,
// restart, scale, traffic, fault, check, and `daemon` (what `up -d` starts). The only module of the
// runtime with side effects: it reads argv and env, talks to the daemon over its unix socket, and
// runs the daemon itself for `up` in the foreground.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, openSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
// Only the constants here: the spec schemas (zod) load for the verbs that read a spec.
import { envName, RUNTIME_CONTROL_SOCKET, RUNTIME_STATE_DIR } from '@meshlet/wire/ports';
import type { MeshSpec } from '@meshlet/wire';
import { detectCgroups, type Cgroups } from './cgroups.ts';
import { parseScaleArgs, parseSince, parseSwitch, parseTimeout, parseWeights } from './cli-args.ts';
import { createControlClient, socketAlive, type ControlClient } from './control-client.ts';
import type { UpResult } from './daemon.ts';
import { ERROR_CODES, RuntimeError, isRuntimeError } from './errors.ts';
import { colours, formatAge, formatBytes, formatPercent, table, type OutputFormat } from './format.ts';
import { createHost } from './host.ts';
import { withInstallDir } from './host-base.ts';
import { followLogs, readLogs, type LogLine } from './log-store.ts';
import type { MeshEnv, MeshEvent, MeshStatus } from './mesh.ts';
import type { HostBase } from './plan.ts';
import type { PodStatus } from './pod.ts';
import { findTool, gatherHostFacts, missingTools, needsRootError, preflightProblems, checkPortFree } from './preflight.ts';
import { listMeshDirs, meshDirOf, readMeshRecord } from './state.ts';
import type { PodStats, TopRow } from './stats.ts';
import { meshNames, podNames } from './names.ts';
import { desiredPods } from './model.ts';
import { isSameProcess } from './procs.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const isRoot = () => process.getuid?.() === 0;
const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const err = (text: string): void => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
const paint = colours(process.stdout);
const paintErr = colours(process.stderr);

/** Settings every verb shares (flags > env > defaults). */
interface Globals {
  stateRoot: string;
  socketPath: string;
  output: OutputFormat;
}

function defaultStateRoot(): string {
  const fromEnv = process.env[envName('runtime', 'state_dir')];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  if (isRoot()) return RUNTIME_STATE_DIR;
  // Without root (process isolation) the state lives where the user may write.
  return join(process.env['XDG_RUNTIME_DIR'] ?? tmpdir(), `meshlet-${process.getuid?.() ?? 'user'}`);
}

function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals<{ stateDir?: string; output?: string }>();
  const stateRoot = o.stateDir === undefined ? defaultStateRoot() : resolve(o.stateDir);
  const output = (o.output ?? 'table') as OutputFormat;
  return { stateRoot, socketPath: stateRoot === RUNTIME_STATE_DIR ? RUNTIME_CONTROL_SOCKET : join(stateRoot, 'meshlet.sock'), output };
}

/** The spec file: -f, else mesh.yaml / mesh.yml in the working directory. */
function specFile(file: string | undefined): string {
  if (file !== undefined) return resolve(file);
  for (const name of ['mesh.yaml', 'mesh.yml']) if (existsSync(name)) return resolve(name);
  throw new RuntimeError(ERROR_CODES.spec, 'no mesh.yaml in this directory', { hint: 'pass the spec with -f FILE' });
}

async function readSpec(file: string): Promise<{ spec: MeshSpec; text: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new RuntimeError(ERROR_CODES.spec, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'pass the spec with -f FILE' });
  }
  const { formatSpecProblems, parseMeshSpec } = await import('@meshlet/wire');
  const parsed = parseMeshSpec(text);
  if (!parsed.ok) {
    throw new RuntimeError(ERROR_CODES.spec, `${basename(file)} has ${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'}:`, { details: formatSpecProblems(parsed.problems, basename(file)).split('\n') });
  }
  return { spec: parsed.spec, text };
}

/** Which mesh a verb is about: --mesh, else -f's spec, else the only running one, else ./mesh.yaml's. */
async function selectMesh(client: ControlClient, o: { mesh?: string; file?: string }): Promise<string> {
  if (o.mesh !== undefined) return o.mesh;
  if (o.file !== undefined) return (await readSpec(resolve(o.file))).spec.name;
  const running = await client.call<MeshStatus[]>('GET', '/v1/meshes').catch(() => [] as MeshStatus[]);
  if (running.length === 1) return (running[0] as MeshStatus).name;
  for (const name of ['mesh.yaml', 'mesh.yml']) if (existsSync(name)) return (await readSpec(resolve(name))).spec.name;
  if (running.length === 0) throw new RuntimeError(ERROR_CODES.notFound, 'no mesh is running', { hint: 'start one with meshlet up' });
  throw new RuntimeError(ERROR_CODES.badRequest, `${running.length} meshes are running (${running.map((m) => m.name).join(', ')}); say which with --mesh NAME`);
}

// ---- the daemon's environment ---------------------------------------------------------------------

function hostBase(): HostBase {
  const dirs = ['/usr', '/etc'];
  if (existsSync('/opt')) dirs.push('/opt');
  const symlinks: Record<string, string> = {};
  for (const name of ['bin', 'lib', 'lib32', 'lib64', 'libx32', 'sbin']) {
    try {
      const st = lstatSync(`/${name}`);
      if (st.isSymbolicLink()) symlinks[name] = readlinkSync(`/${name}`).replace(/^\//, '');
      else if (st.isDirectory()) dirs.push(`/${name}`);
    } catch {
      // not on this system
    }
  }
  return { dirs, symlinks };
}

function ensureSbinOnPath(): void {
  const parts = (process.env['PATH'] ?? '').split(':').filter(Boolean);
  for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']) if (!parts.includes(dir)) parts.push(dir);
  process.env['PATH'] = parts.join(':');
}

async function meshEnv(log: MeshEnv['log']): Promise<Omit<MeshEnv, 'onEvent'>> {
  let cgroups: Cgroups | undefined;
  if (isRoot()) {
    try {
      cgroups = await detectCgroups();
    } catch (e) {
      log('warn', `cgroups unavailable: ${(e as Error).message}; running without resource limits`);
    }
  }
  const statusMs = Number(process.env[envName('runtime', 'status_interval_ms')] ?? '');
  const renewMs = Number(process.env[envName('runtime', 'cert_renew_ms')] ?? '');
  return {
    stateRoot: '',
    host: createHost(),
    cgroups,
    hostBase: withInstallDir(hostBase(), REPO_ROOT),
    meshletBin: process.env[envName('runtime', 'bin')] ?? join(REPO_ROOT, 'bin', 'meshlet.js'),
    nodePath: process.execPath,
    log,
    ...(Number.isFinite(statusMs) && statusMs > 0 ? { statusIntervalMs: statusMs } : {}),
    ...(Number.isFinite(renewMs) && renewMs > 0 ? { leafRenewAfterMs: renewMs } : {}),
  };
}

async function canNetns(): Promise<boolean> {
  return isRoot() && (await missingTools()).length === 0;
}

async function pinoLog(): Promise<MeshEnv['log']> {
  const { default: pino } = await import('pino');
  const logger = pino({ base: { component: 'runtime' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  return (level, message, fields = {}) => logger[level](fields, message);
}

function humanLog(): MeshEnv['log'] {
  return (level, message) => err(`${paintErr(level === 'info' ? 'meshlet' : level, level === 'error' ? 'red' : level === 'warn' ? 'yellow' : 'dim')} ${message}`);
}

/** Starts `meshlet daemon` in the background and waits for its socket. */
async function spawnDaemon(g: Globals): Promise<void> {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(g.stateRoot, { recursive: true });
  const logFile = join(g.stateRoot, 'daemon.log');
  const fd = openSync(logFile, 'a');
  // An 8 MiB young generation at most (V8's default grows to 16 MiB per semi-space): every process the
  // daemon starts (ip, iptables, runc, sidecars) is a fork() whose cost grows with the daemon's memory,
  // but 1 MiB made it scavenge constantly — a 10-pod `up`: daemon 2.40 → 2.05 CPU-s with 8 MiB (four
  // rounds each, interleaved; bench/README.md, "Runtime").
  const child = spawn(process.execPath, ['--max-semi-space-size=8', join(REPO_ROOT, 'bin', 'meshlet.js'), 'daemon', '--exit-when-idle', '--state-dir', g.stateRoot], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
    cwd: '/',
  });
  child.unref();
  const deadline = Date.now() + 20_000;
  while (!(await socketAlive(g.socketPath))) {
    if (child.exitCode !== null) throw new RuntimeError(ERROR_CODES.exec, `the daemon exited at start (code ${child.exitCode}); see ${logFile}`);
    if (Date.now() > deadline) throw new RuntimeError(ERROR_CODES.timeout, `the daemon did not open ${g.socketPath} within 20 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- printing -------------------------------------------------------------------------------------

const stateColour = (s: string): Parameters<typeof paint>[1] =>
  s === 'running' ? 'green' : s === 'failed' || s === 'unhealthy' ? 'red' : s === 'exited' || s === 'stopped' ? 'dim' : 'yellow';

function printPods(g: Globals, meshes: MeshStatus[]): void {
  if (g.output === 'json') return out(JSON.stringify(meshes.map((m) => ({ ...m })), null, 2));
  const wide = g.output === 'wide';
  const now = Date.now();
  const rows = meshes.flatMap((m) =>
    m.pods.map((p: PodStatus) => [
      ...(meshes.length > 1 ? [m.name] : []),
      p.name,
      p.service,
      p.version ?? '-',
      paint(p.state, stateColour(p.state)),
      p.ready ? paint('yes', 'green') : 'no',
      p.health === 'none' ? '-' : p.health,
      p.ip,
      String(p.restarts),
      p.exitCode === null ? '-' : String(p.exitCode),
      formatAge(p.startedAtMs === undefined ? undefined : now - p.startedAtMs),
      ...(wide ? [p.netns ?? '-', p.veth ?? '-', String(p.sidecarPid ?? '-'), String(p.appPid ?? '-'), p.detail || '-'] : []),
    ]),
  );
  const headers = [...(meshes.length > 1 ? ['MESH'] : []), 'NAME', 'SERVICE', 'VERSION', 'STATE', 'READY', 'HEALTH', 'IP', 'RESTARTS', 'EXIT', 'AGE', ...(wide ? ['NETNS', 'VETH', 'SIDECAR PID', 'APP PID', 'DETAIL'] : [])];
  out(table(headers, rows));
}

function meshSummary(m: MeshStatus): string {
  const lines = [`mesh ${m.name}: ${m.pods.length} pod(s), ${m.isolation === 'netns' ? `bridge ${m.network.bridge} ${m.network.subnet}, VIPs ${m.network.vipRange}` : `loopback ${m.network.subnet} (process isolation)`}`];
  lines.push(`  config API  http://${m.configApi}`);
  if (m.collector !== null && 'ui' in m.collector) lines.push(`  collector   OTLP http://${m.collector.otlp}   UI http://${m.collector.ui}`);
  else if (m.collector !== null) lines.push(`  collector   ${m.collector.url}`);
  return lines.join('\n');
}

const podColours: Parameters<typeof paint>[1][] = ['cyan', 'magenta', 'blue', 'green', 'yellow'];
function eventPrinter(): (e: MeshEvent) => void {
  const assigned = new Map<string, Parameters<typeof paint>[1]>();
  return (e) => {
    const who = e.pod ?? e.mesh;
    let c = assigned.get(who);
    if (c === undefined) assigned.set(who, (c = podColours[assigned.size % podColours.length] as Parameters<typeof paint>[1]));
    if (e.kind === 'output') out(`${paint(who, c)} | ${e.message}`);
    else err(`${paintErr(who, c)} ${paintErr(`[${e.name.replace(/^meshlet\./, '')}]`, 'dim')} ${e.message}`);
  };
}

function reportUp(g: Globals, r: UpResult): void {
  if (g.output === 'json') {
    out(JSON.stringify(r, null, 2));
  } else {
    err(meshSummary(r.status));
    printPods(g, [r.status]);
  }
  if (r.settled !== undefined && !r.settled.ok) {
    const parts = [...(r.settled.failed.length > 0 ? [`failed: ${r.settled.failed.join(', ')}`] : []), ...(r.settled.notReady.length > 0 ? [`not ready in time: ${r.settled.notReady.join(', ')}`] : [])];
    err(`${paintErr('meshlet', 'red')} mesh ${r.mesh} is not healthy (${parts.join('; ')}); see meshlet logs POD`);
    process.exitCode = 1;
  }
}

// ---- verbs ------------------------------------------------------------------------------------------

interface UpFlags {
  detach?: boolean;
  file?: string;
  isolation: 'netns' | 'process';
  wait: boolean;
  timeout: string;
}

async function up(g: Globals, f: UpFlags): Promise<void> {
  const file = specFile(f.file);
  const { spec, text } = await readSpec(file);
  desiredPods(spec, dirname(file)); // services this runtime cannot run (images) fail here, before anything starts
  if (f.isolation === 'netns' && !isRoot()) throw needsRootError('up');
  if (f.isolation === 'netns') {
    const missing = await missingTools();
    if (missing.length > 0) throw new RuntimeError(ERROR_CODES.missingTool, (missing[0] as RuntimeError).message, { details: missing.slice(1).map((m) => m.message), ...(missing[0]?.hint === undefined ? {} : { hint: missing[0].hint }) });
  }
  const body = { specPath: file, specText: text, isolation: f.isolation, wait: f.wait, timeoutMs: parseTimeout(f.timeout) };
  const client = createControlClient(g.socketPath);
  const alive = await socketAlive(g.socketPath);
  if (f.detach === true) {
    if (!alive) await spawnDaemon(g);
    const r = await client.call<UpResult>('PUT', `/v1/meshes/${encodeURIComponent(spec.name)}`, body);
    reportUp(g, r);
    return;
  }
  const print = eventPrinter();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (alive) {
    // A daemon already runs: hand it the mesh, follow its events, take the mesh down on Ctrl-C.
    const follow = client.events(spec.name, (e) => print(e as MeshEvent), stop.signal);
    const r = await client.call<UpResult>('PUT', `/v1/meshes/${encodeURIComponent(spec.name)}`, body);
    reportUp(g, r);
    err(paintErr('Following events; Ctrl-C takes the mesh down.', 'dim'));
    await Promise.race([follow, new Promise((r2) => stop.signal.addEventListener('abort', r2))]);
    stop.abort();
    await client.call('DELETE', `/v1/meshes/${encodeURIComponent(spec.name)}`).catch((e: Error) => err(e.message));
    return;
  }
  // No daemon: this process is the daemon until Ctrl-C.
  ensureSbinOnPath();
  const env = await meshEnv(humanLog());
  // The daemon's modules (OpenTelemetry and all) load only for the verbs that run it.
  const { startDaemon } = await import('./daemon.ts');
  const daemon = await startDaemon({ stateRoot: g.stateRoot, socketPath: g.socketPath, env: { ...env, stateRoot: g.stateRoot }, exitWhenIdle: false, canNetns: await canNetns() });
  daemon.subscribe(print);
  let result: UpResult | undefined;
  try {
    result = await daemon.up(body);
    reportUp(g, result);
    err(paintErr('Ctrl-C stops the mesh and removes everything it created.', 'dim'));
    // Like `docker compose up`: return once every pod has ended (one-shot jobs) or on Ctrl-C.
    while (!stop.signal.aborted) {
      const pods = daemon.meshes().flatMap((m) => m.status().pods);
      if (daemon.meshes().length === 0) break;
      if (pods.length > 0 && pods.every((p) => p.state === 'exited' || p.state === 'failed')) {
        const bad = pods.find((p) => p.exitCode !== 0);
        if (bad !== undefined) process.exitCode = bad.exitCode ?? 1;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    err(paintErr('stopping…', 'dim'));
    const problems = await daemon.close();
    for (const p of problems) err(`${paintErr('cleanup', 'red')} ${p}`);
    if (problems.length > 0) process.exitCode = 1;
  }
}

async function daemonVerb(g: Globals, f: { exitWhenIdle?: boolean }): Promise<void> {
  ensureSbinOnPath();
  const log = await pinoLog();
  const env = await meshEnv(log);
  const { startDaemon } = await import('./daemon.ts');
  const daemon = await startDaemon({ stateRoot: g.stateRoot, socketPath: g.socketPath, env: { ...env, stateRoot: g.stateRoot }, exitWhenIdle: f.exitWhenIdle === true, canNetns: await canNetns() });
  log('info', 'listening', { socket: g.socketPath, stateRoot: g.stateRoot, pid: process.pid });
  daemon.subscribe((e) => {
    if (e.kind === 'event') log('info', e.message, { mesh: e.mesh, pod: e.pod, event: e.name });
  });
  const stop = () => void daemon.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await daemon.done;
  log('info', 'stopped');
}

async function down(g: Globals, names: string[], f: { file?: string; mesh?: string }): Promise<void> {
  const client = createControlClient(g.socketPath);
  const alive = await socketAlive(g.socketPath);
  const running = alive ? (await client.call<MeshStatus[]>('GET', '/v1/meshes')).map((m) => m.name) : [];
  const onDisk = (await Promise.all((await listMeshDirs(g.stateRoot)).map((d) => readMeshRecord(d)))).flatMap((r) => (r === undefined ? [] : [r]));
  let targets = names;
  if (targets.length === 0 && f.mesh !== undefined) targets = [f.mesh];
  if (targets.length === 0 && (f.file !== undefined || existsSync('mesh.yaml') || existsSync('mesh.yml'))) {
    const fromSpec = (await readSpec(specFile(f.file))).spec.name;
    if (running.includes(fromSpec) || onDisk.some((r) => r.mesh === fromSpec) || f.file !== undefined) targets = [fromSpec];
  }
  if (targets.length === 0) targets = [...new Set([...running, ...onDisk.map((r) => r.mesh)])];
  if (targets.length === 0) {
    err('meshlet: no mesh to take down');
    return;
  }
  const results: { mesh: string; problems: string[] }[] = [];
  for (const mesh of targets) {
    if (running.includes(mesh)) {
      results.push(await client.call<{ mesh: string; problems: string[] }>('DELETE', `/v1/meshes/${encodeURIComponent(mesh)}`));
      continue;
    }
    const record = onDisk.find((r) => r.mesh === mesh);
    if (record === undefined) {
      results.push({ mesh, problems: [`no mesh "${mesh}" is running or left behind`] });
      continue;
    }
    if (record.isolation === 'netns' && !isRoot()) throw needsRootError('down');
    // Its daemon is gone (kill -9): undo what the state file recorded, here.
    if (await isSameProcess(record.daemonPid, record.daemonStartTicks)) {
      results.push({ mesh, problems: [`mesh ${mesh} belongs to a running daemon (pid ${record.daemonPid}) that does not answer on ${g.socketPath}`] });
      continue;
    }
    ensureSbinOnPath();
    let cgroups: Cgroups | undefined;
    if (isRoot()) cgroups = await detectCgroups().catch(() => undefined);
    const { teardownRecord } = await import('./mesh.ts');
    results.push({ mesh, problems: await teardownRecord({ host: createHost(), cgroups }, record, meshDirOf(g.stateRoot, mesh)) });
  }
  if (g.output === 'json') out(JSON.stringify(results, null, 2));
  for (const r of results) {
    if (r.problems.length === 0) err(`mesh ${r.mesh}: removed`);
    else {
      process.exitCode = 1;
      err(`${paintErr(`mesh ${r.mesh}`, 'red')}: ${r.problems.join('; ')}`);
    }
  }
}

async function ps(g: Globals, f: { mesh?: string; file?: string }): Promise<void> {
  const client = createControlClient(g.socketPath);
  if (!(await socketAlive(g.socketPath))) {
    const left = await listMeshDirs(g.stateRoot);
    if (g.output === 'json') out('[]');
    else err(left.length === 0 ? 'no mesh is running' : `no daemon is running; ${left.length} mesh(es) were left behind by a daemon that died: run meshlet down`);
    return;
  }
  let meshes = await client.call<MeshStatus[]>('GET', '/v1/meshes');
  if (f.mesh !== undefined || f.file !== undefined) {
    const name = await selectMesh(client, f);
    meshes = meshes.filter((m) => m.name === name);
  }
  printPods(g, meshes);
}

interface LogsFlags {
  mesh?: string;
  file?: string;
  follow?: boolean;
  tail?: string;
  since?: string;
  container: 'app' | 'sidecar';
  timestamps?: boolean;
}

async function logs(g: Globals, target: string | undefined, f: LogsFlags): Promise<void> {
  const client = createControlClient(g.socketPath);
  let mesh: string;
  let podList: string[];
  if (await socketAlive(g.socketPath)) {
    mesh = await selectMesh(client, f);
    const status = await client.call<MeshStatus>('GET', `/v1/meshes/${encodeURIComponent(mesh)}`);
    podList = status.pods.map((p) => p.name).filter((p) => target === undefined || p === target || status.pods.find((x) => x.name === p)?.service === target);
  } else {
    const records = (await Promise.all((await listMeshDirs(g.stateRoot)).map((d) => readMeshRecord(d)))).flatMap((r) => (r === undefined ? [] : [r]));
    const record = records.find((r) => r.mesh === f.mesh) ?? (records.length === 1 ? records[0] : undefined);
    if (record === undefined) throw new RuntimeError(ERROR_CODES.noDaemon, 'no mesh is running', { hint: 'start one with meshlet up' });
    mesh = record.mesh;
    podList = Object.entries(record.pods).filter(([p, r]) => target === undefined || p === target || r.service === target).map(([p]) => p);
  }
  if (podList.length === 0) throw new RuntimeError(ERROR_CODES.notFound, `no pod or service "${target}" in mesh ${mesh}`);
  podList.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const tail = f.tail === undefined || f.tail === 'all' ? undefined : Number(f.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new RuntimeError(ERROR_CODES.badRequest, `--tail expects a number or "all", got "${f.tail}"`);
  const sinceMs = f.since === undefined ? undefined : parseSince(f.since, Date.now());
  const prefix = podList.length > 1;
  const print = eventPrinter();
  const show = (pod: string, line: LogLine) => {
    const text = `${f.timestamps === true ? `${new Date(line.t).toISOString()} ` : ''}${line.l}`;
    if (g.output === 'json') out(JSON.stringify({ pod, time: new Date(line.t).toISOString(), stream: line.s, line: line.l }));
    else if (prefix) print({ mesh, pod, kind: 'output', name: f.container, message: text, atMs: line.t });
    else (line.s === 'stderr' ? err : out)(text);
  };
  const pathOf = (pod: string) => join(meshDirOf(g.stateRoot, mesh), 'pods', pod, 'logs', `${f.container}.log`);
  const all: { pod: string; line: LogLine }[] = [];
  for (const pod of podList) {
    for (const line of await readLogs(pathOf(pod), { ...(sinceMs === undefined ? {} : { sinceMs }) })) all.push({ pod, line });
  }
  all.sort((a, b) => a.line.t - b.line.t);
  for (const { pod, line } of tail === undefined ? all : all.slice(Math.max(0, all.length - tail))) show(pod, line);
  if (f.follow !== true) return;
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await Promise.all(
    podList.map(async (pod) => {
      for await (const line of followLogs(pathOf(pod), stop.signal)) show(pod, line);
    }),
  );
}

async function exec(g: Globals, pod: string, argv: string[], f: { mesh?: string; file?: string; interactive?: boolean; tty?: boolean }): Promise<void> {
  if (argv.length === 0) throw new RuntimeError(ERROR_CODES.badRequest, 'exec needs a command: meshlet exec POD -- COMMAND [ARGS...]');
  const client = createControlClient(g.socketPath);
  const mesh = await selectMesh(client, f);
  const [info] = await client.call<{ isolation: string; runcRoot?: string; container?: string; env?: Record<string, string>; workingDir?: string; state: string }[]>('GET', `/v1/meshes/${encodeURIComponent(mesh)}/inspect?target=${encodeURIComponent(pod)}`);
  if (info === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no pod ${pod}`);
  const child =
    info.isolation === 'netns'
      ? spawn('runc', ['--root', info.runcRoot as string, 'exec', ...(f.tty === true ? ['-t'] : []), info.container as string, ...argv], { stdio: f.interactive === true || f.tty === true ? 'inherit' : ['ignore', 'inherit', 'inherit'] })
      : spawn(argv[0] as string, argv.slice(1), { env: info.env, cwd: info.workingDir, stdio: f.interactive === true || f.tty === true ? 'inherit' : ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number>((r) => {
    child.once('error', (e) => {
      err(`meshlet exec: ${e.message}`);
      r(127);
    });
    child.once('exit', (c, s) => r(c ?? (s === null ? 1 : 128)));
  });
  process.exitCode = code;
}

/** GET one of the daemon's per-pod views (`inspect`, `top`, `stats`) of the selected mesh, for a pod or service or all. */
async function podView<T>(g: Globals, f: { mesh?: string; file?: string }, view: 'inspect' | 'top' | 'stats', target: string | undefined): Promise<T> {
  const client = createControlClient(g.socketPath);
  const mesh = await selectMesh(client, f);
  return client.call<T>('GET', `/v1/meshes/${encodeURIComponent(mesh)}/${view}${target === undefined ? '' : `?target=${encodeURIComponent(target)}`}`);
}

async function inspect(g: Globals, target: string | undefined, f: { mesh?: string; file?: string }): Promise<void> {
  const data = await podView<unknown>(g, f, 'inspect', target);
  out(JSON.stringify(data, null, 2));
}

async function top(g: Globals, target: string | undefined, f: { mesh?: string; file?: string }): Promise<void> {
  const rows = await podView<TopRow[]>(g, f, 'top', target);
  if (g.output === 'json') return out(JSON.stringify(rows, null, 2));
  const wide = g.output === 'wide';
  out(
    table(
      ['POD', 'CONTAINER', 'PID', ...(wide ? ['PPID'] : []), 'UID', 'CPU TIME', 'RSS', 'COMMAND'],
      rows.map((r) => [r.pod, r.container, String(r.pid), ...(wide ? [String(r.ppid)] : []), String(r.uid), `${r.cpuSeconds.toFixed(2)}s`, formatBytes(r.rssBytes), wide ? r.command : r.command.slice(0, 80)]),
    ),
  );
}

async function stats(g: Globals, target: string | undefined, f: { mesh?: string; file?: string }): Promise<void> {
  const rows = await podView<PodStats[]>(g, f, 'stats', target);
  if (g.output === 'json') return out(JSON.stringify(rows, null, 2));
  const wide = g.output === 'wide';
  out(
    table(
      ['POD', 'CPU %', 'MEM', 'LIMIT', 'PIDS', 'NET RX / TX', ...(wide ? ['APP CPU %', 'APP MEM', 'SIDECAR CPU %', 'SIDECAR MEM', 'SIDECAR RSS', 'RESTARTS'] : [])],
      rows.map((r) => [
        r.pod,
        formatPercent(r.cpuPercent),
        formatBytes(r.memoryBytes),
        formatBytes(r.memoryLimitBytes),
        r.pids === undefined ? '-' : String(r.pids),
        `${formatBytes(r.netRxBytes)} / ${formatBytes(r.netTxBytes)}`,
        ...(wide ? [formatPercent(r.app.cpuPercent), formatBytes(r.app.memoryBytes), formatPercent(r.sidecar.cpuPercent), formatBytes(r.sidecar.memoryBytes), formatBytes(r.sidecar.rssBytes), String(r.restarts)] : []),
      ]),
    ),
  );
}

async function podVerb(g: Globals, action: 'stop' | 'start' | 'restart', targets: string[], f: { mesh?: string; file?: string }): Promise<void> {
  const client = createControlClient(g.socketPath);
  const mesh = await selectMesh(client, f);
  for (const target of targets) {
    const r = await client.call<{ pods: string[] }>('POST', `/v1/meshes/${encodeURIComponent(mesh)}/pods/${encodeURIComponent(target)}/${action}`);
    err(`${action === 'stop' ? 'stopped' : action === 'start' ? 'started' : 'restarted'}: ${r.pods.join(', ')}`);
  }
}

async function check(g: Globals, f: { file?: string; isolation: 'netns' | 'process' }): Promise<void> {
  interface Check {
    check: string;
    ok: boolean;
    detail: string;
  }
  const checks: Check[] = [];
  const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });
  let spec: MeshSpec | undefined;
  try {
    const file = specFile(f.file);
    spec = (await readSpec(file)).spec;
    desiredPods(spec, dirname(file));
    add('spec', true, `${basename(file)}: mesh ${spec.name}, ${Object.keys(spec.services).length} service(s)`);
  } catch (e) {
    add('spec', false, isRuntimeError(e) ? [e.message, ...e.details].join('\n') : (e as Error).message);
  }
  if (spec?.mtls === true) {
    // Loaded here: mesh-ca.ts brings the spec schemas, which other verbs start without.
    const { mtlsSpecProblems } = await import('./mesh-ca.ts');
    const problems = mtlsSpecProblems(spec);
    add('mtls', problems.length === 0, problems.length === 0 ? 'the runtime is the mesh CA; sidecars get SPIFFE leaves' : problems.map((p) => `${p.message} (${p.hint ?? ''})`).join('\n'));
    const path = await findTool('openssl');
    add('tool openssl', path !== undefined, path === undefined ? 'not installed (mtls: true issues the sidecar certificates with it)' : `${path} (mtls: the runtime is the mesh CA)`);
  }
  if (f.isolation === 'netns') {
    add('root', isRoot(), isRoot() ? 'running as root' : needsRootError('up').message);
    for (const [tool] of Object.entries({ ip: 1, iptables: 1, 'iptables-restore': 1, runc: 1, nsenter: 1, sysctl: 1 })) {
      const path = await findTool(tool);
      add(`tool ${tool}`, path !== undefined, path ?? 'not installed');
    }
    if (isRoot()) {
      const cg = await detectCgroups().then((c) => `cgroup v${c.version}`, (e: Error) => e.message);
      add('cgroups', cg.startsWith('cgroup v'), cg);
    }
  }
  const client = createControlClient(g.socketPath);
  const alive = await socketAlive(g.socketPath);
  const running = alive ? await client.call<MeshStatus[]>('GET', '/v1/meshes').catch(() => [] as MeshStatus[]) : [];
  const mesh = spec === undefined ? (running.length === 1 ? running[0] : undefined) : running.find((m) => m.name === spec.name);
  if (mesh !== undefined) {
    add('daemon', true, `pid answers on ${g.socketPath}`);
    for (const p of mesh.pods) {
      const ok = p.ready || (p.state === 'exited' && p.exitCode === 0);
      add(`pod ${p.name}`, ok, `${p.state}${p.health === 'none' ? '' : `, health ${p.health}`}${p.ready ? ', ready' : ''}${p.detail === '' ? '' : ` (${p.detail})`}`);
    }
    const first = mesh.pods[0];
    if (first !== undefined) {
      const r = await fetch(`http://${mesh.configApi}/v1/pods/${first.name}/config`).then((res) => `HTTP ${res.status}`, (e: Error) => e.message);
      add('config API', r === 'HTTP 200', `http://${mesh.configApi} → ${r}`);
    }
    if (mesh.collector !== null && 'ui' in mesh.collector) {
      const ui = mesh.collector.ui;
      const r = await fetch(`http://${ui}/api/services`).then((res) => `HTTP ${res.status}`, (e: Error) => e.message);
      add('collector', r === 'HTTP 200', `http://${ui} → ${r}`);
    }
  } else if (spec !== undefined && f.isolation === 'netns' && isRoot()) {
    // Not running: would `up` work here?
    const names = meshNames(g.stateRoot, spec.name);
    const cgroups = await detectCgroups().catch(() => undefined);
    const pods = desiredPods(spec, process.cwd(), {}).map((p) => podNames(names, spec.name, p.name));
    const claims = { subnet: spec.network.subnet, vipRange: spec.network.vipRange, bridge: spec.network.bridge, netns: pods.map((p) => p.netns), links: pods.map((p) => p.veth), chains: Object.values(names.chains), cgroups: [names.cgroup] };
    const facts = await gatherHostFacts(createHost(), { chains: claims.chains, cgroups: claims.cgroups, cgroupExists: (p) => cgroups?.exists(p) ?? Promise.resolve(false) });
    const problems = preflightProblems(claims, facts);
    add('network', problems.length === 0, problems.length === 0 ? `subnet ${spec.network.subnet} and VIPs ${spec.network.vipRange} are free` : problems.map((p) => p.message).join('; '));
    for (const [name, svc] of Object.entries(spec.services)) {
      for (const p of svc.publish) {
        const problem = await checkPortFree(p.hostIp, p.hostPort, `services.${name}.publish`);
        add(`port ${p.hostPort}`, problem === undefined, problem?.message ?? `${p.hostIp}:${p.hostPort} is free`);
      }
    }
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) process.exitCode = 1;
  if (g.output === 'json') return out(JSON.stringify(checks, null, 2));
  out(table(['CHECK', 'RESULT', 'DETAIL'], checks.map((c) => [c.check, c.ok ? paint('ok', 'green') : paint('FAIL', 'red'), c.detail.split('\n').join('\n' + ' '.repeat(0))])));
}

// ---- the command line ---------------------------------------------------------------------------------

function program(): Command {
  const root = new Command('meshlet')
    .description('Run a service mesh on this host: containers in network namespaces on a bridge, each with its sidecar.')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'wide']).default('table'))
    .option('--state-dir <dir>', `where meshes keep their state and the control socket (default ${RUNTIME_STATE_DIR} as root; env ${envName('runtime', 'state_dir')})`)
    .showHelpAfterError('(meshlet <verb> --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .addHelpText(
      'after',
      `
Other verbs: meshlet proxy (one sidecar), meshlet collector (collector and UI), meshlet bench, meshlet inject.
Environment: ${envName('runtime', 'state_dir')}, ${envName('runtime', 'status_interval_ms')}; NO_COLOR turns colour off.
Examples:
  meshlet up -d -f mesh.yaml        start the mesh in the background and wait until it is ready
  meshlet ps -o wide                pods with IPs, namespaces, veths and pids
  meshlet traffic catalog blue=90 green=10
  meshlet down                      stop it and remove everything it created`,
    );
  const meshOpt = () => new Option('--mesh <name>', 'which mesh (default: the only one running, or ./mesh.yaml)');
  const fileOpt = (short = true) => new Option(`${short ? '-f, ' : ''}--file <file>`, 'mesh spec (default ./mesh.yaml); also selects the mesh');
  const run = (fn: (g: Globals, ...a: never[]) => Promise<void>) =>
    async function (this: Command, ...args: unknown[]) {
      await (fn as (g: Globals, ...a: unknown[]) => Promise<void>)(globals(this), ...args.slice(0, -1));
    };

  root
    .command('up')
    .description('create the mesh of a spec and run it (foreground; -d: in the background)')
    .option('-d, --detach', 'run in the background (starts the daemon if needed) and return once pods are ready')
    .addOption(fileOpt())
    .addOption(new Option('--isolation <mode>', 'netns: pods in network namespaces, runc containers (root); process: each pod on its own 127.x address, apps use HTTP_PROXY (no root)').choices(['netns', 'process']).default('netns'))
    .option('--no-wait', 'return without waiting for pods to be ready (with -d)')
    .option('--timeout <duration>', 'how long to wait for pods to be ready', '120s')
    .action(run((g, f: UpFlags) => up(g, f)));
  root
    .command('down')
    .description('stop meshes and remove everything they created (also after the daemon was killed)')
    .argument('[mesh...]', 'mesh names (default: ./mesh.yaml\'s mesh, else every mesh)')
    .addOption(fileOpt())
    .addOption(meshOpt())
    .action(run((g, names: string[], f: { file?: string; mesh?: string }) => down(g, names, f)));
  root.command('ps').description('list pods').addOption(meshOpt()).addOption(fileOpt()).action(run((g, f: { mesh?: string; file?: string }) => ps(g, f)));
  root
    .command('logs')
    .description('show the output of a pod, or of every pod of a service (or of the mesh)')
    .argument('[target]', 'pod or service')
    .option('-f, --follow', 'keep printing new lines')
    .option('--tail <n>', 'only the last N lines ("all" for every line)')
    .option('--since <when>', 'only lines since a duration ago (10m) or a time (2024-05-01T10:00:00Z)')
    .addOption(new Option('-c, --container <name>', 'app or sidecar').choices(['app', 'sidecar']).default('app'))
    .option('-t, --timestamps', 'prefix each line with its time')
    .addOption(meshOpt())
    .addOption(fileOpt(false))
    .action(run((g, target: string | undefined, f: LogsFlags) => logs(g, target, f)));
  root
    .command('exec')
    .description('run a command in a pod\'s app container')
    .argument('<pod>')
    .argument('<command...>', 'command and arguments (put -- before them)')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .addOption(meshOpt())
    .addOption(fileOpt())
    .action(run((g, pod: string, argv: string[], f: { mesh?: string; file?: string; interactive?: boolean; tty?: boolean }) => exec(g, pod, argv, f)));
  root.command('inspect').description('everything about the mesh, a service\'s pods or a pod, as JSON').argument('[target]', 'pod or service').addOption(meshOpt()).addOption(fileOpt()).action(run((g, t: string | undefined, f: { mesh?: string; file?: string }) => inspect(g, t, f)));
  root.command('top').description('processes of pods (app and sidecar)').argument('[target]', 'pod or service').addOption(meshOpt()).addOption(fileOpt()).action(run((g, t: string | undefined, f: { mesh?: string; file?: string }) => top(g, t, f)));
  root.command('stats').description('CPU, memory, pids and network of pods (from their cgroups)').argument('[target]', 'pod or service').addOption(meshOpt()).addOption(fileOpt()).action(run((g, t: string | undefined, f: { mesh?: string; file?: string }) => stats(g, t, f)));
  for (const [verb, text] of [['stop', 'stop pods (app, then the sidecar drains)'], ['start', 'start stopped pods'], ['restart', 'restart the app of pods']] as const) {
    root.command(verb).description(text).argument('<target...>', 'pods or services').addOption(meshOpt()).addOption(fileOpt()).action(run((g, t: string[], f: { mesh?: string; file?: string }) => podVerb(g, verb, t, f)));
  }
  root
    .command('scale')
    .description('set the number of replicas: SERVICE=N or SERVICE/VERSION=N')
    .argument('<replicas...>')
    .addOption(meshOpt())
    .addOption(fileOpt())
    .action(
      run(async (g, args: string[], f: { mesh?: string; file?: string }) => {
        const client = createControlClient(g.socketPath);
        const mesh = await selectMesh(client, f);
        for (const s of parseScaleArgs(args)) {
          await client.call('POST', `/v1/meshes/${encodeURIComponent(mesh)}/scale`, s);
          err(`scaled ${s.service}${s.version === undefined ? '' : `/${s.version}`} to ${s.replicas}`);
        }
      }),
    );
  root
    .command('traffic')
    .description('split a service\'s traffic between its versions: traffic catalog blue=90 green=10')
    .argument('<service>')
    .argument('<weights...>', 'VERSION=WEIGHT pairs')
    .addOption(meshOpt())
    .addOption(fileOpt())
    .action(
      run(async (g, service: string, args: string[], f: { mesh?: string; file?: string }) => {
        const client = createControlClient(g.socketPath);
        const mesh = await selectMesh(client, f);
        const weights = parseWeights(args);
        await client.call('POST', `/v1/meshes/${encodeURIComponent(mesh)}/traffic`, { service, weights });
        err(`traffic of ${service}: ${Object.entries(weights).map(([v, w]) => `${v}=${w}`).join(' ')}`);
      }),
    );
  root
    .command('fault')
    .description('switch a fault rule of a service on or off: fault payments abort-half on')
    .argument('<service>')
    .argument('<fault>', 'the fault\'s name (or fault-N for the N-th unnamed one)')
    .argument('<on|off>')
    .addOption(meshOpt())
    .addOption(fileOpt())
    .action(
      run(async (g, service: string, fault: string, sw: string, f: { mesh?: string; file?: string }) => {
        const client = createControlClient(g.socketPath);
        const mesh = await selectMesh(client, f);
        const enabled = parseSwitch(sw);
        await client.call('POST', `/v1/meshes/${encodeURIComponent(mesh)}/fault`, { service, fault, enabled });
        err(`fault ${fault} of ${service}: ${enabled ? 'on' : 'off'}`);
      }),
    );
  root
    .command('check')
    .description('validate the spec and the host (and the running mesh); non-zero exit when a check fails')
    .addOption(fileOpt())
    .addOption(new Option('--isolation <mode>').choices(['netns', 'process']).default('netns'))
    .action(run((g, f: { file?: string; isolation: 'netns' | 'process' }) => check(g, f)));
  root
    .command('daemon')
    .description('run the runtime daemon in the foreground (meshlet up -d starts one in the background)')
    .option('--exit-when-idle', 'exit once no mesh is left')
    .action(run((g, f: { exitWhenIdle?: boolean }) => daemonVerb(g, f)));
  return root;
}

/** Entry point for every runtime verb (bin/meshlet.js passes argv with the verb first). */
export async function main(argv: string[]): Promise<void> {
  const cmd = program();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code !== 'commander.helpDisplayed' && e.code !== 'commander.version' && e.code !== 'commander.help') process.exitCode = 2;
      return;
    }
    if (isRuntimeError(e)) {
      err(`${paintErr('meshlet', 'red')}: ${e.message}`);
      for (const line of e.details) err(`  ${line}`);
      if (e.hint !== undefined) err(`  ${paintErr(`hint: ${e.hint}`, 'dim')}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

