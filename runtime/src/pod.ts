// One pod's life: sidecar first, its /ready, then the app; health checks; restarts with backoff
// (by policy, on failing health, after an OOM kill); drain and stop of the sidecar when the app is
// done; infrastructure events and periodic snapshots for the collector.
//
//   creating ─► starting ─► running ◄──────────────┐
//                  │           │ health fails        │ backoff, restart
//                  │           ▼                     │
//                  │       unhealthy ──restart──► restarting
//                  │           │ app exits, policy says stop
//                  ▼           ▼
//               failed ◄── exited / failed (sidecar drained, exit code kept)      stop ─► stopped
import { INFRA_EVENTS, POD_ATTR, SEVERITY, type HealthStatus, type PodState } from '@meshlet/wire';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupStats, Cgroups } from './cgroups.ts';
import { httpProbe, initialHealth, nextHealth, tcpProbe, type HealthState, type ProbeResult } from './health.ts';
import type { LogWriter } from './log-store.ts';
import type { DesiredPod } from './model.ts';
import type { PodNames } from './names.ts';
import type { Exit, Running } from './processes.ts';
import { backoffMs, BACKOFF_RESET_AFTER_MS, shouldRestart, type RestartReason } from './restart-policy.ts';

/**
 * How long an app that has never passed its health check since it started may fail it before it is
 * restarted for it (the spec's `start_period` when longer). Kubernetes gives a liveness probe
 * `failureThreshold × periodSeconds` (30 s by default); Docker never restarts for health at all.
 */
export const UNHEALTHY_RESTART_GRACE_MS = 10_000;
import type { EventAttributes, PodTelemetry } from './telemetry.ts';

/** How a pod's programs are started; differs between netns and process isolation. */
export interface PodLauncher {
  startSidecar(onOutput: (stream: 'stdout' | 'stderr', line: string) => void): Promise<Running>;
  /** `onOom`: a process of the app was OOM-killed (where the launcher can tell as it happens). */
  startApp(onOutput: (stream: 'stdout' | 'stderr', line: string) => void, onOom: () => void): Promise<Running>;
  /** Runs a health-check command in the app's environment; exit code 0 is healthy. */
  execCheck(argv: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }>;
  /** Where the app port is probed from: host, and the local address to use (netns: the prober address). */
  probeTarget: { host: string; localAddress?: string };
  /** Where the sidecar's admin listener is reached from the daemon (port 15000 in pods). */
  admin: { host: string; port: number };
}

/** A pod event for the daemon's event stream (and `up`'s output). */
export interface PodEvent {
  pod: string;
  name: string;
  message: string;
  atMs: number;
}

export interface PodDeps {
  mesh: string;
  pod: DesiredPod;
  ip: string;
  /** The pod's names: its cgroup (when cgroups are used), and netns and veth (with netns isolation). */
  names: PodNames | undefined;
  /** False with process isolation: there is no netns or veth to report. */
  hasNetns: boolean;
  launcher: PodLauncher;
  cgroups: Cgroups | undefined;
  telemetry: PodTelemetry;
  logs: { app: LogWriter; sidecar: LogWriter };
  /** Readiness or state changed: push configs, update published ports. */
  onChange(): void;
  onEvent(event: PodEvent): void;
  /** Records a started process in the journal so a crash of the daemon cannot leak it. */
  track(kind: 'sidecar' | 'app', proc: Running | undefined): Promise<void>;
  /**
   * Awaited between the sidecar's /ready and the first start of the app (`depends_on`): sidecars of
   * every pod start at once, apps in dependency order. False leaves the app unstarted.
   */
  beforeFirstApp?: () => Promise<boolean>;
  /** Status snapshot every this many ms (default 5 s). */
  statusIntervalMs?: number;
  /** Stop grace before SIGKILL (default 5 s). */
  stopGraceMs?: number;
  /** See UNHEALTHY_RESTART_GRACE_MS (tests shorten it). */
  unhealthyRestartGraceMs?: number;
  now?: () => number;
}

/** What `ps`/`inspect` show about a pod. */
export interface PodStatus {
  name: string;
  service: string;
  version: string | undefined;
  ip: string;
  state: PodState;
  ready: boolean;
  health: HealthStatus;
  healthDetail: string;
  restarts: number;
  lastRestartReason: RestartReason | undefined;
  exitCode: number | null;
  exitSignal: string | null;
  startedAtMs: number | undefined;
  sidecarPid: number | undefined;
  appPid: number | undefined;
  netns: string | undefined;
  veth: string | undefined;
  cgroup: string | undefined;
  oomKills: number;
  detail: string;
}

const SIDECAR_READY_TIMEOUT_MS = 120_000; // 2 min: a Node start takes ~1 s, but a loaded 2-core machine can stretch that to half a minute
/** Readiness probes of a starting sidecar when it says nothing (its log lines wake the probe at once). */
const SIDECAR_READY_POLL_MS = 200;
const SIDECAR_DRAIN_WAIT_MS = 12_000; // the sidecar's own drain limit is 10 s

export interface Pod {
  readonly name: string;
  readonly service: string;
  readonly version: string | undefined;
  readonly ip: string;
  status(): PodStatus;
  /** Starts sidecar then app; resolves once the app was started (or the pod failed). */
  start(): Promise<void>;
  /** Stops app and sidecar (state `stopped`). */
  stop(): Promise<void>;
  restart(reason: RestartReason): Promise<void>;
  /** Resolves when the app has started at least once (depends_on: started). */
  whenStarted(): Promise<void>;
  /** Resolves when the pod is healthy (depends_on: healthy). */
  whenHealthy(): Promise<void>;
  /** Latest cgroup numbers of the pod (app + sidecar) and of each. */
  stats(): Promise<{ pod?: CgroupStats; app?: CgroupStats; sidecar?: CgroupStats }>;
  /** Stops timers; the caller removes the pod's resources. */
  close(): Promise<void>;
}

export function createPod(d: PodDeps): Pod {
  const now = d.now ?? Date.now;
  const spec = d.pod.template;
  let state: PodState = 'creating';
  let health: HealthState = initialHealth(spec.health, now());
  let lastCountedProbeMs = 0;
  let portOpen = spec.port === undefined || spec.health !== undefined;
  let sidecar: Running | undefined;
  let app: Running | undefined;
  let sidecarReady = false;
  let restarts = 0;
  let consecutiveFailures = 0;
  let lastRestartReason: RestartReason | undefined;
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let startedAtMs: number | undefined;
  let detail = '';
  let oomKills = 0;
  let lastThrottled = 0;
  let wanted = false; // the user wants it running (false after stop/close)
  let transition: Promise<void> = Promise.resolve(); // serialises start/stop/restart
  let generation = 0; // bumps on each app start: stale exits and probes are ignored
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  let startedWaiters: (() => void)[] = [];
  let healthyWaiters: (() => void)[] = [];
  let everStarted = false;
  // Aborted by stop/close so a pending backoff (up to 30 s) does not hold them up.
  let backoffAbort = new AbortController();
  const wakeBackoff = () => {
    backoffAbort.abort();
    backoffAbort = new AbortController();
  };

  const appCgroup = d.names === undefined ? undefined : `${d.names.cgroup}/app`;
  const base = (): EventAttributes => ({
    [POD_ATTR.netns]: d.hasNetns ? d.names?.netns : undefined,
    [POD_ATTR.veth]: d.hasNetns ? d.names?.veth : undefined,
    [POD_ATTR.restarts]: restarts,
  });

  const isReady = () => (state === 'running' || state === 'unhealthy') && sidecarReady && app !== undefined && portOpen && (spec.health === undefined || health.status === 'healthy');
  const changed = () => {
    if (spec.health === undefined && isReady()) flush(healthyWaitersList());
    d.onChange();
  };
  const healthyWaitersList = () => {
    const w = healthyWaiters;
    healthyWaiters = [];
    return w;
  };
  const flush = (waiters: (() => void)[]) => {
    for (const w of waiters) w();
  };

  const emit = (name: (typeof INFRA_EVENTS)[keyof typeof INFRA_EVENTS], attrs: EventAttributes, message: string, severity: number = SEVERITY.info) => {
    d.telemetry.event(name, { ...base(), ...attrs }, message, severity);
    d.onEvent({ pod: d.pod.name, name, message, atMs: now() });
  };

  const setState = (next: PodState, why = '') => {
    state = next;
    detail = why;
    changed();
  };

  const every = (ms: number, fn: () => Promise<void> | void) => {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      Promise.resolve(fn())
        .catch(() => {})
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    timers.add(t);
    return t;
  };

  // ---- sidecar -------------------------------------------------------------------------------
  const startSidecar = async (): Promise<void> => {
    sidecarReady = false;
    // A sidecar logs a line once it listens with its config applied (and when it cannot): each line
    // wakes the readiness probe, so the probe need not poll fast (each probe is work for both sides).
    let wake: (() => void) | undefined;
    const proc = await d.launcher.startSidecar((stream, line) => {
      d.logs.sidecar.write(stream, line);
      if (stream === 'stderr') d.telemetry.output('sidecar', stream, line);
      wake?.();
    });
    sidecar = proc;
    await d.track('sidecar', proc);
    const mine = proc;
    void proc.exited.then((exit) => onSidecarExit(mine, exit));
    const deadline = now() + SIDECAR_READY_TIMEOUT_MS;
    for (;;) {
      if (sidecar !== mine) throw new Error('the sidecar was stopped before it was ready');
      const r = await httpProbe({ host: d.launcher.admin.host, port: d.launcher.admin.port, path: '/ready', timeoutMs: 1000 });
      if (r.ok) break;
      const woken = new Promise<undefined>((resolve) => (wake = () => resolve(undefined)));
      const exited = await Promise.race([mine.exited, woken, sleep(SIDECAR_READY_POLL_MS).then(() => undefined)]);
      wake = undefined;
      if (exited !== undefined) throw new Error(`sidecar exited (code ${exited.code ?? exited.signal}) before it was ready; see \`meshlet logs ${d.pod.name} -c sidecar\``);
      if (now() > deadline) {
        sidecar = undefined;
        await mine.stop(0);
        throw new Error(`sidecar not ready within ${SIDECAR_READY_TIMEOUT_MS / 1000} s: ${r.detail}`);
      }
    }
    sidecarReady = true;
  };

  const onSidecarExit = (proc: Running, exit: Exit) => {
    if (sidecar !== proc) return;
    const wasReady = sidecarReady;
    sidecar = undefined;
    sidecarReady = false;
    changed();
    // Before it was ready, the start-up path reports the failure; after, a crash is repaired here.
    if (!wasReady || !wanted || closed || state === 'exited' || state === 'failed' || state === 'stopped') return;
    // The pod cannot serve without its sidecar: start a new one (the app keeps running).
    emit(INFRA_EVENTS.restarted, { [POD_ATTR.restartReason]: 'exit', [POD_ATTR.exitCode]: exit.code ?? undefined, container: 'sidecar' }, `sidecar exited (${exit.code ?? exit.signal}); restarting it`, SEVERITY.warn);
    transition = transition.then(async () => {
      if (!wanted || closed) return;
      await sleep(backoffMs(0), undefined, { signal: backoffAbort.signal }).catch(() => {});
      if (!wanted || closed) return;
      await startSidecar().catch((err: Error) => setState('failed', err.message));
      changed();
    });
  };

  const drainSidecar = async () => {
    const proc = sidecar;
    if (proc === undefined) return;
    sidecar = undefined;
    sidecarReady = false;
    changed();
    // POST /shutdown drains (finish in-flight requests) and exits; SIGTERM does the same if the admin
    // listener does not answer.
    const posted = await postShutdown(d.launcher.admin);
    if (!posted) proc.signal('SIGTERM');
    const done = await Promise.race([proc.exited, sleep(SIDECAR_DRAIN_WAIT_MS).then(() => undefined)]);
    if (done === undefined) await proc.stop(0);
  };

  // ---- app -----------------------------------------------------------------------------------
  const startApp = async (): Promise<void> => {
    const gen = ++generation;
    health = initialHealth(spec.health, now());
    lastCountedProbeMs = now();
    portOpen = spec.port === undefined || spec.health !== undefined;
    exitCode = null;
    exitSignal = null;
    setState('starting');
    let proc: Running;
    try {
      proc = await d.launcher.startApp(
        (stream, line) => {
          d.logs.app.write(stream, line);
          d.telemetry.output('app', stream, line);
        },
        () => void reportOom(),
      );
    } catch (err) {
      exitCode = 127;
      emit(INFRA_EVENTS.exited, { [POD_ATTR.exitCode]: 127 }, `app failed to start: ${(err as Error).message}`, SEVERITY.error);
      await drainSidecar();
      setState('failed', (err as Error).message);
      return;
    }
    app = proc;
    await d.track('app', proc);
    startedAtMs = now();
    oomsAtStart = oomsReported;
    lastAppOoms = 0;
    cgroupOomBase = (appCgroup === undefined ? undefined : await d.cgroups?.oomKills(appCgroup).catch(() => undefined)) ?? 0;
    emit(INFRA_EVENTS.started, { [POD_ATTR.appPid]: proc.pid, [POD_ATTR.sidecarPid]: sidecar?.pid }, restarts === 0 ? 'started' : `started again (restart ${restarts})`);
    setState('running');
    everStarted = true;
    flush(startedWaiters);
    startedWaiters = [];
    void proc.exited.then((exit) => {
      if (gen === generation) onAppExit(proc, exit);
    });
    if (!portOpen) void waitForPort(gen);
  };

  const waitForPort = async (gen: number) => {
    while (gen === generation && app !== undefined && !closed) {
      const r = await tcpProbe({ host: d.launcher.probeTarget.host, port: spec.port as number, ...(d.launcher.probeTarget.localAddress === undefined ? {} : { localAddress: d.launcher.probeTarget.localAddress }), timeoutMs: 1000 });
      if (r.ok && gen === generation) {
        portOpen = true;
        changed();
        return;
      }
      await sleep(50);
    }
  };

  const onAppExit = (proc: Running, exit: Exit) => {
    if (app !== proc) return;
    lastAppOoms = proc.oomKills?.() ?? 0;
    app = undefined;
    exitCode = exit.code;
    exitSignal = exit.signal;
    changed();
    transition = transition.then(async () => {
      // Counters first (process isolation, cgroup v2), then what the container runtime saw.
      await reportOom();
      const reason: RestartReason = oomsAtStart < oomKills && exit.signal === 'SIGKILL' ? 'oom' : 'exit';
      if (!wanted || closed) return;
      emit(
        INFRA_EVENTS.exited,
        { [POD_ATTR.exitCode]: exit.code ?? undefined, [POD_ATTR.signal]: exit.signal ?? undefined },
        `app exited with code ${exit.code}${exit.signal === null ? '' : ` (${exit.signal})`}`,
        exit.code === 0 ? SEVERITY.info : SEVERITY.warn,
      );
      const ranMs = now() - (startedAtMs ?? now());
      if (ranMs >= BACKOFF_RESET_AFTER_MS) consecutiveFailures = 0;
      if (shouldRestart(spec.restart, { reason, exitCode: exit.code }, restarts, spec.health?.restartOnUnhealthy ?? true)) {
        await relaunch(reason);
        return;
      }
      // Done: the sidecar drains and stops; the pod keeps the app's exit code.
      await drainSidecar();
      setState(exit.code === 0 ? 'exited' : 'failed', `exit code ${exit.code}`);
    });
  };

  const relaunch = async (reason: RestartReason) => {
    setState('restarting', reason);
    const wait = reason === 'manual' ? 0 : backoffMs(consecutiveFailures);
    consecutiveFailures++;
    await sleep(wait, undefined, { signal: backoffAbort.signal }).catch(() => {});
    if (!wanted || closed) return;
    restarts++;
    lastRestartReason = reason;
    emit(INFRA_EVENTS.restarted, { [POD_ATTR.restartReason]: reason }, `restarting app (${reason}, restart ${restarts}, after ${wait} ms)`, reason === 'manual' ? SEVERITY.info : SEVERITY.warn);
    if (sidecar === undefined) await startSidecar().catch((err: Error) => setState('failed', err.message));
    if (state !== 'failed') await startApp();
  };

  const stopApp = async () => {
    const proc = app;
    if (proc === undefined) return;
    generation++; // its exit is ours, not a crash
    app = undefined;
    changed();
    await proc.stop(d.stopGraceMs ?? 5_000);
  };

  // ---- health and monitoring -------------------------------------------------------------------
  const probe = async (): Promise<ProbeResult> => {
    const h = spec.health;
    if (h === undefined) return { ok: true, detail: '' };
    if (h.http !== undefined) {
      if (spec.port === undefined) return { ok: false, detail: 'health.http needs the service to have a port' };
      return httpProbe({ host: d.launcher.probeTarget.host, port: spec.port, path: h.http, ...(d.launcher.probeTarget.localAddress === undefined ? {} : { localAddress: d.launcher.probeTarget.localAddress }), timeoutMs: h.timeoutMs });
    }
    const r = await d.launcher.execCheck(h.command ?? [], h.timeoutMs);
    return { ok: r.code === 0, detail: `exit ${r.code}${r.output === '' ? '' : `: ${r.output.slice(0, 200)}`}` };
  };

  const checkHealth = async () => {
    const h = spec.health;
    if (h === undefined || app === undefined || (state !== 'running' && state !== 'unhealthy')) return;
    const gen = generation;
    const result = await probe();
    if (gen !== generation || app === undefined) return;
    // Until the first success probes run every 200 ms so a pod is ready as soon as its app is, but a
    // failure only counts once per interval: a slow starter is not declared unhealthy sooner.
    if (!result.ok && now() - lastCountedProbeMs < h.intervalMs && !health.everHealthy) return;
    lastCountedProbeMs = now();
    const next = nextHealth(health, h, result, now());
    health = next;
    if (next.changed) {
      emit(INFRA_EVENTS.healthChanged, { [POD_ATTR.healthStatus]: next.status, [POD_ATTR.healthDetail]: next.detail }, `health ${next.status}: ${next.detail}`, next.status === 'unhealthy' ? SEVERITY.warn : SEVERITY.info);
      if (next.status === 'healthy') {
        flush(healthyWaitersList());
        if (state === 'unhealthy') setState('running');
      }
      if (next.status === 'unhealthy') setState('unhealthy', next.detail);
      changed();
    }
    // An app that has not answered once since it started is only restarted after a start grace: on a
    // loaded machine (or under a small CPU quota) a slow starter would otherwise be killed before it
    // listens, again and again. It is reported unhealthy all the same.
    const startGraceOver = next.everHealthy || now() - next.sinceMs >= Math.max(h.startPeriodMs, d.unhealthyRestartGraceMs ?? UNHEALTHY_RESTART_GRACE_MS);
    if (next.status === 'unhealthy' && h.restartOnUnhealthy && startGraceOver && !restartScheduled) {
      restartScheduled = true;
      transition = transition.then(async () => {
        restartScheduled = false;
        if (!wanted || closed || gen !== generation) return;
        await stopApp();
        await relaunch('unhealthy');
      });
    }
  };
  let restartScheduled = false;

  /**
   * Emits one `oom_killed` event per OOM kill not reported yet, from the cgroup counter of the app
   * (where the kernel accounts it: process isolation, cgroup v2) and the container's own count.
   */
  let oomsReported = 0;
  let oomsAtStart = 0;
  let cgroupOomBase = 0;
  const reportOom = async () => {
    const kills = appCgroup === undefined || d.cgroups === undefined ? undefined : await d.cgroups.oomKills(appCgroup).catch(() => undefined);
    const fromCgroup = kills === undefined ? 0 : Math.max(0, kills - cgroupOomBase);
    const fromRuntime = app?.oomKills?.() ?? lastAppOoms;
    const seen = Math.max(fromCgroup, fromRuntime) + oomsAtStart;
    // The full stats (memory limit for the event) only when there is something to report.
    const stats = oomsReported < seen ? await statsOf(appCgroup) : undefined;
    while (oomsReported < seen) {
      oomsReported++;
      oomKills = oomsReported;
      emit(
        INFRA_EVENTS.oomKilled,
        { [POD_ATTR.memoryLimitBytes]: stats?.memoryLimitBytes ?? spec.resources?.memoryBytes },
        `a process of the app was OOM-killed (memory limit ${stats?.memoryLimitBytes ?? spec.resources?.memoryBytes ?? 'none'} bytes)`,
        SEVERITY.error,
      );
    }
  };
  let lastAppOoms = 0;

  const statsOf = async (path: string | undefined) => (path === undefined || d.cgroups === undefined ? undefined : d.cgroups.stats(path).catch(() => undefined));

  // An OOM kill of a child process leaves the app running; it is reported all the same.
  const monitor = async () => {
    if (app !== undefined) await reportOom();
  };

  const snapshot = async () => {
    if (closed) return;
    const all = await statsOf(d.names?.cgroup);
    const appStats = await statsOf(appCgroup);
    if (appStats !== undefined) {
      const delta = appStats.throttledSeconds - lastThrottled;
      if (lastThrottled > 0 && delta > 0) {
        emit(INFRA_EVENTS.cpuThrottled, { [POD_ATTR.cpuThrottledSeconds]: Number(delta.toFixed(6)) }, `CPU throttled for ${(delta * 1000).toFixed(0)} ms in the last ${(d.statusIntervalMs ?? 5000) / 1000} s`, SEVERITY.warn);
      }
      lastThrottled = appStats.throttledSeconds || lastThrottled || Number.MIN_VALUE;
    }
    d.telemetry.event(
      INFRA_EVENTS.status,
      {
        ...base(),
        [POD_ATTR.state]: state,
        [POD_ATTR.healthStatus]: health.status,
        [POD_ATTR.healthDetail]: health.detail || undefined,
        [POD_ATTR.cpuSeconds]: all?.cpuSeconds,
        [POD_ATTR.cpuThrottledSeconds]: appStats?.throttledSeconds,
        [POD_ATTR.memoryBytes]: all?.memoryBytes,
        [POD_ATTR.memoryLimitBytes]: appStats?.memoryLimitBytes,
        [POD_ATTR.pids]: all?.pids,
        [POD_ATTR.startedAtMs]: startedAtMs,
        [POD_ATTR.sidecarPid]: sidecar?.pid,
        [POD_ATTR.appPid]: app?.pid,
        [POD_ATTR.exitCode]: exitCode ?? undefined,
        ready: isReady(),
      },
      `${d.pod.name} ${state}`,
    );
  };

  let timersStarted = false;
  const startTimers = () => {
    if (timersStarted) return;
    timersStarted = true;
    if (spec.health !== undefined) {
      const h = spec.health;
      const loop = () => {
        if (closed) return;
        const delay = health.everHealthy || state === 'restarting' ? h.intervalMs : Math.min(h.intervalMs, 200);
        const t = setTimeout(() => {
          timers.delete(t);
          void checkHealth().catch(() => {}).finally(loop);
        }, delay);
        t.unref();
        timers.add(t);
      };
      loop();
    }
    every(1000, monitor);
    every(d.statusIntervalMs ?? 5000, snapshot);
  };

  return {
    name: d.pod.name,
    service: d.pod.service,
    version: d.pod.version,
    ip: d.ip,
    status: () => ({
      name: d.pod.name,
      service: d.pod.service,
      version: d.pod.version,
      ip: d.ip,
      state,
      ready: isReady(),
      health: health.status,
      healthDetail: health.detail,
      restarts,
      lastRestartReason,
      exitCode,
      exitSignal,
      startedAtMs,
      sidecarPid: sidecar?.pid,
      appPid: app?.pid,
      netns: d.hasNetns ? d.names?.netns : undefined,
      veth: d.hasNetns ? d.names?.veth : undefined,
      cgroup: d.names?.cgroup,
      oomKills,
      detail,
    }),
    start() {
      wanted = true;
      transition = transition.then(async () => {
        if (closed || app !== undefined) return;
        startTimers();
        setState('starting', 'starting sidecar');
        try {
          if (sidecar === undefined) await startSidecar();
        } catch (err) {
          setState('failed', (err as Error).message);
          emit(INFRA_EVENTS.exited, {}, `pod failed: ${(err as Error).message}`, SEVERITY.error);
          return;
        }
        if (!everStarted && d.beforeFirstApp !== undefined) {
          setState('starting', 'waiting for dependencies');
          const ready = await d.beforeFirstApp();
          if (closed || !wanted) return;
          if (!ready) {
            setState('failed', 'what its service depends on did not become ready');
            return;
          }
        }
        await startApp();
      });
      return transition;
    },
    stop() {
      wanted = false;
      wakeBackoff();
      transition = transition.then(async () => {
        await stopApp();
        await drainSidecar();
        setState('stopped', 'stopped');
      });
      return transition;
    },
    restart(reason) {
      wanted = true;
      transition = transition.then(async () => {
        if (closed) return;
        await stopApp();
        await relaunch(reason);
      });
      return transition;
    },
    whenStarted: () => (everStarted ? Promise.resolve() : new Promise((resolve) => startedWaiters.push(resolve))),
    whenHealthy: () => (isReady() && (spec.health === undefined || health.status === 'healthy') ? Promise.resolve() : new Promise((resolve) => healthyWaiters.push(resolve))),
    async stats() {
      const [pod, appStats, sidecarStats] = await Promise.all([statsOf(d.names?.cgroup), statsOf(appCgroup), statsOf(d.names === undefined ? undefined : `${d.names.cgroup}/sidecar`)]);
      return { ...(pod === undefined ? {} : { pod }), ...(appStats === undefined ? {} : { app: appStats }), ...(sidecarStats === undefined ? {} : { sidecar: sidecarStats }) };
    },
    async close() {
      wanted = false;
      wakeBackoff();
      await transition.catch(() => {});
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await stopApp();
      await drainSidecar();
      if (state !== 'exited' && state !== 'failed') state = 'stopped';
      flush(startedWaiters);
      flush(healthyWaitersList());
    },
  };
}

async function postShutdown(admin: { host: string; port: number }): Promise<boolean> {
  const { request } = await import('node:http');
  return new Promise((resolve) => {
    const req = request({ host: admin.host, port: admin.port, path: '/shutdown', method: 'POST', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
