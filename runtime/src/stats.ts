// Numbers for `meshlet stats` and `meshlet top`: CPU percentages from two cgroup samples, memory,
// pids, and the pod's network counters (read through the sidecar's /proc entry, which sits in the
// pod's netns).
import { readFile } from 'node:fs/promises';
import type { Cgroups, CgroupStats } from './cgroups.ts';
import type { Pod } from './pod.ts';
import { descendantsOf, processInfo, type ProcessInfo } from './procs.ts';

export interface PodStats {
  pod: string;
  service: string;
  state: string;
  cpuPercent: number | undefined;
  memoryBytes: number | undefined;
  memoryLimitBytes: number | undefined;
  pids: number | undefined;
  netRxBytes: number | undefined;
  netTxBytes: number | undefined;
  app: { cpuPercent: number | undefined; memoryBytes: number | undefined };
  sidecar: { cpuPercent: number | undefined; memoryBytes: number | undefined; rssBytes: number | undefined };
  restarts: number;
}

/** `eth0` receive/transmit bytes from /proc/<pid>/net/dev. */
export async function netCounters(pid: number | undefined, iface = 'eth0'): Promise<{ rx: number; tx: number } | undefined> {
  if (pid === undefined) return undefined;
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.trim().startsWith(`${iface}:`));
  if (line === undefined) return undefined;
  const fields = line.slice(line.indexOf(':') + 1).trim().split(/\s+/).map(Number);
  return { rx: fields[0] ?? 0, tx: fields[8] ?? 0 };
}

const percent = (a: CgroupStats | undefined, b: CgroupStats | undefined, ms: number) =>
  a === undefined || b === undefined ? undefined : Math.max(0, ((b.cpuSeconds - a.cpuSeconds) / (ms / 1000)) * 100);

/** Samples every pod twice, `sampleMs` apart. */
export async function samplePods(pods: readonly Pod[], sampleMs: number): Promise<PodStats[]> {
  const first = await Promise.all(pods.map((p) => p.stats()));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const second = await Promise.all(pods.map((p) => p.stats()));
  const ms = performance.now() - t0;
  return Promise.all(
    pods.map(async (p, i) => {
      const a = first[i];
      const b = second[i];
      const status = p.status();
      // Only a pod with its own netns has its own counters (process isolation shares the host's).
      const net = status.netns === undefined ? undefined : await netCounters(status.sidecarPid);
      const sidecarInfo = status.sidecarPid === undefined ? undefined : await processInfo(status.sidecarPid);
      return {
        pod: p.name,
        service: p.service,
        state: status.state,
        cpuPercent: percent(a?.pod, b?.pod, ms),
        memoryBytes: b?.pod?.memoryBytes,
        memoryLimitBytes: b?.app?.memoryLimitBytes,
        pids: b?.pod?.pids,
        netRxBytes: net?.rx,
        netTxBytes: net?.tx,
        app: { cpuPercent: percent(a?.app, b?.app, ms), memoryBytes: b?.app?.memoryBytes },
        sidecar: { cpuPercent: percent(a?.sidecar, b?.sidecar, ms), memoryBytes: b?.sidecar?.memoryBytes, rssBytes: sidecarInfo?.rssBytes },
        restarts: status.restarts,
      };
    }),
  );
}

export interface TopRow extends ProcessInfo {
  pod: string;
  container: 'app' | 'sidecar';
}

/** Processes of pods: from their cgroups when there are some, else from the known pids and their children. */
export async function topOf(pods: readonly Pod[], cgroups: Cgroups | undefined): Promise<TopRow[]> {
  const rows: TopRow[] = [];
  for (const p of pods) {
    const s = p.status();
    const groups: ['app' | 'sidecar', number[]][] = [];
    if (cgroups !== undefined && s.cgroup !== undefined) {
      groups.push(['sidecar', await cgroups.procs(`${s.cgroup}/sidecar`)], ['app', await cgroups.procs(`${s.cgroup}/app`)]);
    } else {
      for (const [kind, pid] of [['sidecar', s.sidecarPid], ['app', s.appPid]] as const) {
        if (pid !== undefined) groups.push([kind, [pid, ...(await descendantsOf(pid))]]);
      }
    }
    for (const [container, pids] of groups) {
      for (const pid of pids.sort((x, y) => x - y)) {
        const info = await processInfo(pid);
        if (info !== undefined) rows.push({ ...info, pod: p.name, container });
      }
    }
  }
  return rows;
}
