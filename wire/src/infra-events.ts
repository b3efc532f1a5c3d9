// Infrastructure events and container logs the runtime sends to the collector as OTLP log records.
// Resource attributes (`RESOURCE` in attributes.ts) say which service and pod; the record's
// `event.name` attribute says which event; its other attributes are listed here.

/** `event.name` values of runtime log records. */
export const INFRA_EVENTS = Object.freeze({
  /** The pod's containers started (`meshlet.pod.restarts` = count so far). */
  started: 'meshlet.pod.started',
  /** The app container exited (`meshlet.pod.exit_code`, `meshlet.pod.signal`). */
  exited: 'meshlet.pod.exited',
  /** The runtime restarted the app (`meshlet.pod.restarts`, `meshlet.pod.restart_reason`). */
  restarted: 'meshlet.pod.restarted',
  /** The kernel OOM-killed a process in the pod's cgroup (`meshlet.cgroup.memory_limit_bytes`). */
  oomKilled: 'meshlet.pod.oom_killed',
  /** The health check result flipped (`meshlet.health.status`, `meshlet.health.detail`). */
  healthChanged: 'meshlet.pod.health_changed',
  /** The cgroup was throttled in the last sampling period (`meshlet.cgroup.throttled_seconds`). */
  cpuThrottled: 'meshlet.pod.cpu_throttled',
  /**
   * Periodic snapshot of a pod (every few seconds), so the collector can show the Mesh view:
   * every `POD_ATTR` below.
   */
  status: 'meshlet.pod.status',
  /** The pod was removed (scale down, `down`). */
  removed: 'meshlet.pod.removed',
  /** A load-test run started or ended (`meshlet.run`, `meshlet.loadtest.*`), sent by `meshlet bench`. */
  loadTestStarted: 'meshlet.loadtest.started',
  loadTestFinished: 'meshlet.loadtest.finished',
});

export type InfraEventName = (typeof INFRA_EVENTS)[keyof typeof INFRA_EVENTS];

/** The log-record attribute that names the event (OpenTelemetry semantic conventions). */
export const EVENT_NAME_ATTR = 'event.name';

/** Attributes of pod events and snapshots. */
export const POD_ATTR = Object.freeze({
  state: 'meshlet.pod.state', // PodState
  netns: 'meshlet.pod.netns',
  veth: 'meshlet.pod.veth', // host-side veth name
  restarts: 'meshlet.pod.restarts',
  restartReason: 'meshlet.pod.restart_reason', // 'exit' | 'unhealthy' | 'oom' | 'manual'
  exitCode: 'meshlet.pod.exit_code',
  signal: 'meshlet.pod.signal',
  healthStatus: 'meshlet.health.status', // HealthStatus
  healthDetail: 'meshlet.health.detail',
  cpuSeconds: 'meshlet.cgroup.cpu_seconds', // cumulative CPU time
  cpuThrottledSeconds: 'meshlet.cgroup.throttled_seconds',
  memoryBytes: 'meshlet.cgroup.memory_bytes',
  memoryLimitBytes: 'meshlet.cgroup.memory_limit_bytes',
  pids: 'meshlet.cgroup.pids',
  startedAtMs: 'meshlet.pod.started_at_ms',
  sidecarPid: 'meshlet.pod.sidecar_pid',
  appPid: 'meshlet.pod.app_pid',
});

/** Attributes of load-test events. */
export const LOADTEST_ATTR = Object.freeze({
  name: 'meshlet.loadtest.name',
  target: 'meshlet.loadtest.target',
  requests: 'meshlet.loadtest.requests',
  errors: 'meshlet.loadtest.errors',
  thresholdsPassed: 'meshlet.loadtest.thresholds_passed',
  /** The k6-shaped summary of the run, as a JSON string (on `loadTestFinished`). */
  summaryJson: 'meshlet.loadtest.summary_json',
});

/** Lifecycle states of a pod. */
export const POD_STATES = ['creating', 'starting', 'running', 'unhealthy', 'restarting', 'exited', 'failed', 'stopped'] as const;
export type PodState = (typeof POD_STATES)[number];

export const HEALTH_STATUSES = ['starting', 'healthy', 'unhealthy', 'none'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** Container output shipped as log records: `log.iostream` is `stdout | stderr` (semantic conventions). */
export const LOG_IOSTREAM_ATTR = 'log.iostream';

/** Severity numbers (OTLP `SeverityNumber`) used for runtime events. */
export const SEVERITY = Object.freeze({ info: 9, warn: 13, error: 17, fatal: 21 });
