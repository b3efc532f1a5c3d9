// Processes through /proc: identity (pid + start time, so a recycled pid is never killed by mistake),
// the owner-marker sweep that finds every process a mesh started even after the daemon was killed,
// and the per-process numbers `top` shows.
import { readdir, readFile, readlink } from 'node:fs/promises';

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parens). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined if gone. */
export async function startTicks(pid: number): Promise<number | undefined> {
  const stat = await read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return Number(statFields(stat)[19]);
}

/** True when `pid` is still the process that had `ticks` as its start time. */
export async function isSameProcess(pid: number, ticks: number | undefined): Promise<boolean> {
  const now = await startTicks(pid);
  return now !== undefined && (ticks === undefined || now === ticks);
}

/** Signals `pid` if it is still the same process (and its process group when `group`). */
export async function signalProcess(pid: number, ticks: number | undefined, signal: NodeJS.Signals, group = false): Promise<boolean> {
  if (!(await isSameProcess(pid, ticks))) return false;
  try {
    process.kill(group ? -pid : pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Pids of processes whose environment carries `name=value`. */
export async function processesWithEnv(name: string, value: string): Promise<number[]> {
  const needle = `\0${name}=${value}\0`;
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const environ = await read(`/proc/${entry}/environ`);
    if (environ !== undefined && `\0${environ}`.includes(needle)) out.push(Number(entry));
  }
  return out;
}

/** SIGKILLs every process carrying the owner marker, until none is left (bounded). Returns how many. */
export async function sweepOwner(name: string, value: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 50; round++) {
    const pids = await processesWithEnv(name, value);
    if (pids.length === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}

/** One row of `meshlet top`. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
  cpuSeconds: number;
  rssBytes: number;
  startedAtMs: number;
  command: string;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
const PAGE_SIZE = 4096;

let bootTimeMs: number | undefined;
async function bootTime(): Promise<number> {
  if (bootTimeMs === undefined) {
    const btime = /^btime (\d+)$/m.exec((await read('/proc/stat')) ?? '');
    bootTimeMs = btime === null ? 0 : Number(btime[1]) * 1000;
  }
  return bootTimeMs;
}

export async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  const [stat, status, cmdline] = await Promise.all([read(`/proc/${pid}/stat`), read(`/proc/${pid}/status`), read(`/proc/${pid}/cmdline`)]);
  if (stat === undefined) return undefined;
  const f = statFields(stat);
  const uid = /^Uid:\s+(\d+)/m.exec(status ?? '');
  const exe = cmdline === undefined || cmdline === '' ? `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]` : cmdline.replace(/\0+$/, '').split('\0').join(' ');
  return {
    pid,
    ppid: Number(f[1]),
    uid: uid === null ? -1 : Number(uid[1]),
    state: f[0] ?? '?',
    cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
    rssBytes: Number(f[21]) * PAGE_SIZE,
    startedAtMs: (await bootTime()) + (Number(f[19]) / CLOCK_TICKS) * 1000,
    command: exe,
  };
}

/** The network namespace inode of a process (`net:[4026532…]`), to tell pods apart in tests and `inspect`. */
export async function netnsOf(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Descendants of `pid` (children, grandchildren, …) from /proc. */
export async function descendantsOf(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await read(`/proc/${entry}/stat`);
    if (stat === undefined) continue;
    const ppid = Number(statFields(stat)[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}
