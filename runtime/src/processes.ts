// Starting the programs of a pod: the app (a runc container in its netns, or a plain process with
// `--isolation=process`) and the sidecar (`meshlet proxy`, a process in the pod's netns running as the
// sidecar uid). Each returns a handle with its pid, exit and output; all are started in their own
// process group (Ctrl-C at the terminal reaches only the daemon, which stops pods in order) and carry
// the mesh's owner marker in their environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Host } from './host.ts';
import { lineSplitter } from './log-store.ts';
import { OWNER_ENV } from './names.ts';
import { signalProcess, startTicks } from './procs.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started program. */
export interface Running {
  /** Host pid of the program (the container's init for runc). */
  pid: number;
  startTicks: number | undefined;
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs: number): Promise<Exit>;
  signal(signal: NodeJS.Signals): void;
  /** OOM kills seen in the container so far (runc containers only; settled when `exited` resolves). */
  oomKills?: () => number;
}

export type OutputHandler = (stream: 'stdout' | 'stderr', line: string) => void;

/** A process killed by signal N reports exit code 128+N, as shells and Docker do. */
function exitOf(child: ChildProcess): Promise<Exit> {
  const exit = (code: number | null, signal: NodeJS.Signals | null): Exit => ({ code: code ?? (signal === null ? null : 128 + (constants.signals[signal] ?? 0)), signal });
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(exit(child.exitCode, child.signalCode));
    else child.once('exit', (code, signal) => resolve(exit(code, signal)));
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
}

function pipeOutput(child: ChildProcess, onOutput: OutputHandler): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const split = lineSplitter((line) => onOutput(stream, line));
    child[stream]?.on('data', (chunk: Buffer) => split.push(chunk));
    child[stream]?.on('end', () => split.end());
  }
}

async function stopWith(exited: Promise<Exit>, term: () => void, kill: () => void, graceMs: number): Promise<Exit> {
  term();
  const timer = sleep(graceMs).then(() => undefined);
  const first = await Promise.race([exited, timer]);
  if (first !== undefined) return first;
  kill();
  return exited;
}

/** Spawns a program in its own process group with its output split into lines. */
function spawnProgram(argv: readonly string[], o: { env: NodeJS.ProcessEnv; cwd?: string; onOutput: OutputHandler }): ChildProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const child = spawn(file, args, { env: o.env, ...(o.cwd === undefined ? {} : { cwd: o.cwd }), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  pipeOutput(child, o.onOutput);
  return child;
}

/** A plain process (the sidecar, a process-isolation app, the collector). */
export async function startProcess(argv: readonly string[], o: { env: NodeJS.ProcessEnv; cwd?: string; onOutput: OutputHandler }): Promise<Running> {
  const child = spawnProgram(argv, o);
  const exited = exitOf(child);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', (err) => reject(new Error(`cannot start ${argv[0]}: ${err.message}`)));
  });
  const ticks = await startTicks(pid);
  return {
    pid,
    startTicks: ticks,
    exited,
    stop: (graceMs) =>
      stopWith(
        exited,
        () => void signalProcess(pid, ticks, 'SIGTERM', true),
        () => void signalProcess(pid, ticks, 'SIGKILL', true),
        graceMs,
      ),
    signal: (signal) => void signalProcess(pid, ticks, signal, true),
  };
}

/** How often the pid file of a starting container is read when no change in its bundle says so. */
const PID_FILE_POLL_MS = 100;

/** Where runc keeps a mesh's container state, and how it is called. */
export interface RuncOptions {
  root: string;
  host: Host;
}

/**
 * Runs an app container in the foreground of a `runc run` (so the daemon gets its output through
 * pipes and its exit status as runc's). The container's host pid comes from `runc state`.
 */
export async function startContainer(
  runc: RuncOptions,
  o: { id: string; bundle: string; owner: string; onOutput: OutputHandler; /** Watch for OOM kills (the app has a memory limit). */ onOom?: () => void },
): Promise<Running> {
  // A container left over from a previous run of this pod (crash, kill -9) would make `run` fail. runc
  // keeps a container's state in <root>/<id>; without it there is nothing to delete, and not starting
  // `runc delete` (a Go program, ~0.1 CPU-second) for each of ten pods at once shortens `up`.
  if (await access(join(runc.root, o.id)).then(() => true, () => false)) await runc.host.exec(['runc', '--root', runc.root, 'delete', '--force', o.id]).catch(() => {});
  const pidFile = join(o.bundle, 'app.pid');
  await rm(pidFile, { force: true });
  const child = spawnProgram(['runc', '--root', runc.root, 'run', '--pid-file', pidFile, '--bundle', o.bundle, o.id], {
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', [OWNER_ENV]: o.owner },
    onOutput: o.onOutput,
  });
  const exited = exitOf(child).then((exit): Exit => {
    // runc reports a container killed by signal N as exit 128+N.
    if (exit.code !== null && exit.code > 128 && exit.code < 160) return { code: exit.code, signal: signalName(exit.code - 128) };
    return exit;
  });
  // runc writes the container's pid once it has created it; reading a file is far cheaper than
  // polling `runc state` (a Go program start each time) while ten pods start at once. A change in the
  // bundle directory (inotify) says when to look; the slow poll only covers a watch that cannot be made.
  let pid: number | undefined;
  const deadline = Date.now() + 60_000;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(o.bundle, () => wake?.());
    watcher.on('error', () => {});
  } catch {
    watcher = undefined;
  }
  try {
    while (pid === undefined) {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      if (/^\d+$/.test(text.trim()) && Number(text) > 0) {
        pid = Number(text);
        break;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`container ${o.id} did not start within 60 s`);
      }
      const woken = new Promise<undefined>((resolve) => (wake = () => resolve(undefined)));
      const done = await Promise.race([exited, woken, sleep(watcher === undefined ? 10 : PID_FILE_POLL_MS).then(() => undefined)]);
      wake = undefined;
      if (done !== undefined) {
        // It ended before we saw it run (a crash at start, a bad command): report through `exited`.
        return { pid: child.pid ?? 0, startTicks: undefined, exited, stop: () => exited, signal: () => {} };
      }
    }
  } finally {
    watcher?.close();
  }
  const appPid = pid;
  const ticks = await startTicks(appPid);
  const kill = (signal: string) => runc.host.exec(['runc', '--root', runc.root, 'kill', '--all', o.id, signal]).catch(() => undefined);
  // `runc events` reports OOM kills as they happen (eventfd on memory.oom_control with cgroup v1,
  // memory.events on v2). On v1 the kernel counts a kill in the victim's own cgroup, which runc
  // removes with the container, so reading counters after the exit would miss it.
  let ooms = 0;
  if (o.onOom === undefined) {
    return {
      pid: appPid,
      startTicks: ticks,
      exited,
      stop: (graceMs) => stopWith(exited, () => void kill('TERM'), () => void kill('KILL'), graceMs),
      signal: (signal) => void kill(signal.replace(/^SIG/, '')),
    };
  }
  const onOom = o.onOom;
  const events = spawnProgram(['runc', '--root', runc.root, 'events', '--interval', '3600s', o.id], {
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', [OWNER_ENV]: o.owner },
    onOutput: (stream, line) => {
      if (stream !== 'stdout') return;
      try {
        if ((JSON.parse(line) as { type?: string }).type === 'oom') {
          ooms++;
          onOom();
        }
      } catch {
        // a stats line cut short
      }
    },
  });
  const eventsDone = exitOf(events);
  const settled = exited.then(async (exit) => {
    // The OOM notice and the exit race: give the events stream a moment to deliver it.
    await Promise.race([eventsDone, sleep(500)]);
    events.kill('SIGKILL');
    return exit;
  });
  return {
    pid: appPid,
    startTicks: ticks,
    exited: settled,
    oomKills: () => ooms,
    stop: (graceMs) =>
      stopWith(
        settled,
        () => void kill('TERM'),
        () => void kill('KILL'),
        graceMs,
      ),
    signal: (signal) => void kill(signal.replace(/^SIG/, '')),
  };
}

/** Runs a command inside a running container (`runc exec`), for command health checks. */
export async function execInContainer(runc: RuncOptions, id: string, argv: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  try {
    const r = await runc.host.exec(['runc', '--root', runc.root, 'exec', id, ...argv], { timeoutMs });
    return { code: 0, output: (r.stdout + r.stderr).trim() };
  } catch (err) {
    const e = err as { exitCode?: number | null; stderr?: string; stdout?: string; message: string };
    return { code: typeof e.exitCode === 'number' ? e.exitCode : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}

const SIGNALS: Record<number, NodeJS.Signals> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

function signalName(n: number): NodeJS.Signals | null {
  return SIGNALS[n] ?? null;
}

/** Runs a command to completion with its own env and cwd (process-isolation health checks). Never throws. */
export function runCommand(argv: readonly string[], o: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number }): Promise<{ code: number; output: string }> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.resolve({ code: 127, output: 'empty command' });
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: o.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    const take = (chunk: Buffer) => {
      if (output.length < 4096) output += chunk.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => resolve({ code: 127, output: err.message }));
    child.once('close', (code, signal) => resolve({ code: code ?? (signal === null ? 1 : 128 + 9), output: output.trim() }));
  });
}
