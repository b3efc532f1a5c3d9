// cgroups for pods, on v1 (one hierarchy per controller, as on this machine) and v2 (unified): create
// with limits, move a process in, read usage (CPU, throttling, memory, OOM kills, pids), and remove
// (kill what is inside, then rmdir leaf-first; absent is success). Roots are arguments, so tests run
// against a fake sysfs tree in a temp dir.
import { mkdir, readdir, readFile, rmdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  cpus?: number | undefined;
  memoryBytes?: number | undefined;
  pids?: number | undefined;
}

/** Usage of a cgroup and everything below it. */
export interface CgroupStats {
  cpuSeconds: number;
  throttledSeconds: number;
  throttledPeriods: number;
  /** Usage without reclaimable page cache (what `docker stats` shows). */
  memoryBytes: number;
  memoryLimitBytes: number | undefined;
  memoryPeakBytes: number | undefined;
  /** Processes killed by the OOM killer in this cgroup (cumulative). */
  oomKills: number;
  pids: number;
}

export interface Cgroups {
  readonly version: 1 | 2;
  create(path: string, limits?: CgroupLimits): Promise<void>;
  addProcess(path: string, pid: number): Promise<void>;
  /** Every process in the cgroup and its descendants. */
  procs(path: string): Promise<number[]>;
  stats(path: string): Promise<CgroupStats | undefined>;
  /**
   * Only the OOM-kill counter of `stats()` (one file instead of eight): what the runtime polls every
   * second per pod. Undefined when the cgroup is absent.
   */
  oomKills(path: string): Promise<number | undefined>;
  /** Kills every process inside, then removes the cgroup and its descendants. Absent is success. */
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

const CPU_PERIOD_US = 100_000;
const UNLIMITED = 2 ** 60; // v1 reports "no limit" as a huge page-aligned number

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** `key value` lines (cpu.stat, memory.stat, memory.events, memory.oom_control) → map. */
export function parseFlatKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined && /^-?\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

const num = (text: string | undefined): number | undefined => (text === undefined || !/^\d+/.test(text.trim()) ? undefined : Number(text.trim()));

/** Sub-directories, deepest first (rmdir order). */
async function descendants(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
    out.push(d);
  };
  await walk(dir);
  return out;
}

async function procsUnder(dir: string): Promise<number[]> {
  const pids = new Set<number>();
  for (const d of await descendants(dir)) {
    for (const line of ((await read(join(d, 'cgroup.procs'))) ?? '').split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
  }
  return [...pids];
}

async function killAndRemove(dir: string, kill: (pid: number) => void): Promise<void> {
  if (!(await exists(dir))) return;
  const deadline = Date.now() + 5_000; // 5 s: SIGKILL'd processes leave their cgroup within milliseconds
  for (;;) {
    const pids = await procsUnder(dir);
    if (pids.length === 0) break;
    for (const pid of pids) kill(pid);
    if (Date.now() > deadline) throw new Error(`cgroup ${dir} still holds processes ${pids.join(', ')}`);
    await sleep(20);
  }
  for (const d of await descendants(dir)) {
    try {
      await rmdir(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // A process that just exited may still be accounted for a moment.
      if (code === 'EBUSY' && Date.now() < deadline) {
        await sleep(20);
        await rmdir(d).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        continue;
      }
      throw err;
    }
  }
}

const defaultKill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
};

/**
 * cgroup v1. `hierarchies` maps each mounted hierarchy directory to its controllers, e.g.
 * `{ '/sys/fs/cgroup/memory': ['memory'], '/sys/fs/cgroup/cpu,cpuacct': ['cpu', 'cpuacct'] }`.
 */
export function createCgroupsV1(hierarchies: Readonly<Record<string, readonly string[]>>, kill = defaultKill): Cgroups {
  const dirOf = (controller: string): string | undefined => Object.entries(hierarchies).find(([, c]) => c.includes(controller))?.[0];
  // Where our own cgroups (sidecars, process-mode apps) live; cpuset is left alone (a new cpuset cgroup
  // starts with no CPUs and refuses processes).
  const used = [...new Set(['memory', 'cpu', 'cpuacct', 'pids'].map(dirOf).filter((d): d is string => d !== undefined))];
  const all = Object.keys(hierarchies);
  const at = (controller: string, path: string, file: string) => {
    const dir = dirOf(controller);
    return dir === undefined ? undefined : join(dir, path, file);
  };
  const readAt = async (controller: string, path: string, file: string) => {
    const p = at(controller, path, file);
    return p === undefined ? undefined : read(p);
  };
  return {
    version: 1,
    async create(path, limits = {}) {
      for (const dir of used) await mkdir(join(dir, path), { recursive: true });
      const write = async (controller: string, file: string, value: string | number) => {
        const p = at(controller, path, file);
        if (p !== undefined) await writeFile(p, String(value));
      };
      if (limits.memoryBytes !== undefined) {
        await write('memory', 'memory.limit_in_bytes', limits.memoryBytes);
        if (await exists(at('memory', path, 'memory.memsw.limit_in_bytes') ?? '')) await write('memory', 'memory.memsw.limit_in_bytes', limits.memoryBytes);
      }
      if (limits.cpus !== undefined) {
        await write('cpu', 'cpu.cfs_period_us', CPU_PERIOD_US);
        await write('cpu', 'cpu.cfs_quota_us', Math.round(limits.cpus * CPU_PERIOD_US));
      }
      if (limits.pids !== undefined) await write('pids', 'pids.max', limits.pids);
    },
    async addProcess(path, pid) {
      for (const dir of used) await writeFile(join(dir, path, 'cgroup.procs'), String(pid));
    },
    async procs(path) {
      const pids = new Set<number>();
      for (const dir of used) for (const pid of await procsUnder(join(dir, path))) pids.add(pid);
      return [...pids];
    },
    async stats(path) {
      const memDir = at('memory', path, '');
      if (memDir === undefined || !(await exists(memDir))) return undefined;
      const cpuStat = parseFlatKeyed(await readAt('cpu', path, 'cpu.stat'));
      const memStat = parseFlatKeyed(await readAt('memory', path, 'memory.stat'));
      const oom = parseFlatKeyed(await readAt('memory', path, 'memory.oom_control'));
      const usage = num(await readAt('memory', path, 'memory.usage_in_bytes')) ?? 0;
      const limit = num(await readAt('memory', path, 'memory.limit_in_bytes'));
      return {
        cpuSeconds: (num(await readAt('cpuacct', path, 'cpuacct.usage')) ?? 0) / 1e9,
        throttledSeconds: (cpuStat.get('throttled_time') ?? 0) / 1e9,
        throttledPeriods: cpuStat.get('nr_throttled') ?? 0,
        memoryBytes: Math.max(0, usage - (memStat.get('total_inactive_file') ?? 0)),
        memoryLimitBytes: limit === undefined || limit >= UNLIMITED ? undefined : limit,
        memoryPeakBytes: num(await readAt('memory', path, 'memory.max_usage_in_bytes')),
        oomKills: oom.get('oom_kill') ?? 0,
        pids: num(await readAt('pids', path, 'pids.current')) ?? 0,
      };
    },
    async oomKills(path) {
      const text = await readAt('memory', path, 'memory.oom_control');
      return text === undefined ? undefined : (parseFlatKeyed(text).get('oom_kill') ?? 0);
    },
    async remove(path) {
      // runc creates the container's cgroup in every hierarchy, so every one is swept.
      for (const dir of all) await killAndRemove(join(dir, path), kill);
    },
    async exists(path) {
      for (const dir of all) if (await exists(join(dir, path))) return true;
      return false;
    },
  };
}

/** cgroup v2 (unified hierarchy at `root`). */
export function createCgroupsV2(root: string, kill = defaultKill): Cgroups {
  const enableControllers = async (path: string) => {
    // "No internal processes": controllers are enabled on every ancestor's subtree_control, top down.
    const available = ((await read(join(root, 'cgroup.controllers'))) ?? '').split(/\s+/).filter((c) => ['cpu', 'memory', 'pids'].includes(c));
    const parts = path.split('/').filter(Boolean);
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      if (available.length > 0) await writeFile(join(dir, 'cgroup.subtree_control'), available.map((c) => `+${c}`).join(' ')).catch(() => {});
      dir = join(dir, part);
      await mkdir(dir, { recursive: true });
    }
    if (available.length > 0) await writeFile(join(dir, 'cgroup.subtree_control'), available.map((c) => `+${c}`).join(' ')).catch(() => {});
  };
  return {
    version: 2,
    async create(path, limits = {}) {
      await enableControllers(path);
      const dir = join(root, path);
      await mkdir(dir, { recursive: true });
      if (limits.memoryBytes !== undefined) {
        await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
        await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {});
      }
      if (limits.cpus !== undefined) await writeFile(join(dir, 'cpu.max'), `${Math.round(limits.cpus * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
      if (limits.pids !== undefined) await writeFile(join(dir, 'pids.max'), String(limits.pids));
    },
    async addProcess(path, pid) {
      await writeFile(join(root, path, 'cgroup.procs'), String(pid));
    },
    procs: (path) => procsUnder(join(root, path)),
    async stats(path) {
      const dir = join(root, path);
      if (!(await exists(dir))) return undefined;
      const cpu = parseFlatKeyed(await read(join(dir, 'cpu.stat')));
      const mem = parseFlatKeyed(await read(join(dir, 'memory.stat')));
      const events = parseFlatKeyed(await read(join(dir, 'memory.events')));
      const max = (await read(join(dir, 'memory.max')))?.trim();
      return {
        cpuSeconds: (cpu.get('usage_usec') ?? 0) / 1e6,
        throttledSeconds: (cpu.get('throttled_usec') ?? 0) / 1e6,
        throttledPeriods: cpu.get('nr_throttled') ?? 0,
        memoryBytes: Math.max(0, (num(await read(join(dir, 'memory.current'))) ?? 0) - (mem.get('inactive_file') ?? 0)),
        memoryLimitBytes: max === undefined || max === 'max' ? undefined : Number(max),
        memoryPeakBytes: num(await read(join(dir, 'memory.peak'))),
        oomKills: events.get('oom_kill') ?? 0,
        pids: num(await read(join(dir, 'pids.current'))) ?? 0,
      };
    },
    async oomKills(path) {
      const text = await read(join(root, path, 'memory.events'));
      return text === undefined ? undefined : (parseFlatKeyed(text).get('oom_kill') ?? 0);
    },
    async remove(path) {
      const dir = join(root, path);
      if (!(await exists(dir))) return;
      await writeFile(join(dir, 'cgroup.kill'), '1').catch(() => {});
      await killAndRemove(dir, kill);
    },
    exists: (path) => exists(join(root, path)),
  };
}

/** Parses /proc/self/mountinfo into v1 hierarchies (dir → controllers) and the v2 mount, if any. */
export function parseCgroupMounts(mountinfo: string): { v1: Record<string, string[]>; v2: string | undefined } {
  const v1: Record<string, string[]> = {};
  let v2: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , superOptions] = right.split(' ');
    if (mountPoint === undefined) continue;
    if (fsType === 'cgroup2') v2 ??= mountPoint;
    if (fsType === 'cgroup' && superOptions !== undefined) {
      const controllers = superOptions.split(',').filter((o) => !['rw', 'ro', 'relatime', 'noexec', 'nosuid', 'nodev', 'clone_children'].includes(o) && !o.startsWith('release_agent'));
      v1[mountPoint] = controllers;
    }
  }
  return { v1, v2 };
}

/**
 * The machine's cgroups: v1 when controllers are mounted per hierarchy (including hybrid layouts,
 * where the v2 mount carries no controllers), else v2.
 */
export async function detectCgroups(): Promise<Cgroups> {
  const { v1, v2 } = parseCgroupMounts((await read('/proc/self/mountinfo')) ?? '');
  const hasV1Memory = Object.values(v1).some((c) => c.includes('memory'));
  // Hybrid layout: runc also makes the container's cgroup in the (controller-less) v2 mount, so that
  // one is swept on removal too.
  if (hasV1Memory) return createCgroupsV1(v2 === undefined ? v1 : { ...v1, [v2]: [] });
  if (v2 !== undefined) return createCgroupsV2(v2);
  throw new Error('no cgroup filesystem is mounted (looked in /proc/self/mountinfo)');
}
