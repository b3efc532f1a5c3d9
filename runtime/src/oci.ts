// The OCI runtime config (config.json) of an app container, as a pure function. The rootfs is the
// "host base": an empty directory whose /usr and /etc are read-only bind mounts of the host's (the
// merged-/usr symlinks /bin, /lib, /lib64, /sbin are recreated inside it), plus the service's working
// directory read-write, tmpfs on /tmp and /run, the pod's /etc/hosts, and the pod's netns by path.

export interface OciLimits {
  cpus?: number | undefined;
  memoryBytes?: number | undefined;
  pids?: number | undefined;
}

export interface OciOptions {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  hostname: string;
  /** `/run/netns/<name>`. */
  netnsPath: string;
  /** cgroup path relative to each hierarchy root, e.g. `/meshlet/shop/orders-1/app`. */
  cgroupsPath: string;
  limits: OciLimits | undefined;
  /** Host file bind-mounted as the container's /etc/hosts. */
  hostsFile: string;
  /** Host directories bound read-only (default: /usr, /etc, and /opt when present). */
  hostDirs: readonly string[];
  /** Bound read-write at the same path. */
  workingDir: string;
  /** User of the app process (default root, with the few capabilities below). */
  uid?: number;
  gid?: number;
}

/** Capabilities left to the app: the few runc's own default spec keeps. No NET_ADMIN: the app cannot touch the pod's iptables. */
export const APP_CAPABILITIES = Object.freeze(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);

/** The CFS period used for `cpus` limits (100 ms, the kernel default). */
export const CPU_PERIOD_US = 100_000;

/** Symlinks of a merged-/usr Debian root, recreated in the empty rootfs. */
export const ROOTFS_SYMLINKS: Readonly<Record<string, string>> = Object.freeze({ bin: 'usr/bin', lib: 'usr/lib', lib64: 'usr/lib64', sbin: 'usr/sbin' });

/** The container's own writable tmpfs directories; host directories below them are bound after them. */
const TMPFS_DIRS = [
  { path: '/tmp', options: ['mode=1777', 'size=262144k'] },
  { path: '/run', options: ['mode=755', 'size=16384k'] },
] as const;
const underTmpfs = (dir: string) => TMPFS_DIRS.some((t) => dir === t.path || dir.startsWith(`${t.path}/`));

const bindRo = (path: string) => ({ destination: path, type: 'bind', source: path, options: ['rbind', 'ro', 'nosuid', 'nodev'] });

export function ociConfig(o: OciOptions): Record<string, unknown> {
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (o.limits?.memoryBytes !== undefined) resources['memory'] = { limit: o.limits.memoryBytes, swap: o.limits.memoryBytes };
  if (o.limits?.cpus !== undefined) resources['cpu'] = { quota: Math.round(o.limits.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US };
  if (o.limits?.pids !== undefined) resources['pids'] = { limit: o.limits.pids };
  const caps = [...APP_CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: o.uid ?? 0, gid: o.gid ?? 0 },
      args: [...o.args],
      env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      cwd: o.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: o.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      ...o.hostDirs.filter((d) => !underTmpfs(d)).map(bindRo),
      { destination: '/etc/hosts', type: 'bind', source: o.hostsFile, options: ['bind', 'ro', 'nosuid', 'nodev'] },
      ...TMPFS_DIRS.map((t) => ({ destination: t.path, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...t.options] })),
      // After the tmpfs mounts: host directories under /tmp or /run (a clone of meshlet in /tmp, whose
      // install is bound for the pod's tools), and last the working directory, for the same reason.
      ...o.hostDirs.filter(underTmpfs).map(bindRo),
      { destination: o.workingDir, type: 'bind', source: o.workingDir, options: ['rbind', 'rw', 'nosuid', 'nodev'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: o.netnsPath }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      cgroupsPath: o.cgroupsPath,
      resources,
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
