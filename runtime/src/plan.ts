// The planner: pure functions from the mesh's desired shape to steps with do/undo actions.
//
//   mesh/dir ─► mesh/cgroup ─► mesh/sweep ─► mesh/bridge ─► mesh/vip-route ─► mesh/sysctl ─► mesh/iptables
//   then per pod (concurrently):
//   pod/<p>/net: netns, /etc/netns/<ns>/hosts, veth (host end on the bridge, eth0 inside), address and
//                routes (pod subnet, VIP range; default route only with egress: nat), pod iptables,
//                cgroup, OCI bundle (rootfs skeleton + config.json)
//
// Undo runs in reverse, so the sweep of stray processes comes after every pod is gone and before the
// mesh cgroup and state directory are removed.
import { createHash } from 'node:crypto';
import { COLLECTOR_OTLP_PORT, DEFAULT_SIDECAR_UID, podIptablesRules, SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT } from '@meshlet/wire';
import type { Action, Step } from './actions.ts';
import { hostRulesRemoval, hostRulesRestore } from './host-iptables.ts';
import type { MeshNames, PodNames } from './names.ts';
import { ociConfig, type OciLimits } from './oci.ts';

/** uid the sidecar runs as inside pods; its traffic is exempt from the pod's redirects. */
export const SIDECAR_UID = DEFAULT_SIDECAR_UID;

export interface NetworkFacts {
  bridge: string;
  subnet: string;
  prefix: number;
  vipRange: string;
  bridgeIp: string;
  probeIp: string;
  egress: 'none' | 'nat';
}

/** Where the host base comes from (detected once): directories bound read-only and root symlinks. */
export interface HostBase {
  dirs: readonly string[];
  symlinks: Readonly<Record<string, string>>;
}

export interface MeshPlanContext {
  mesh: string;
  meshDir: string;
  names: MeshNames;
  isolation: 'netns' | 'process';
  network: NetworkFacts;
  /** Some service publishes a host port. */
  publishes: boolean;
  /** Whether cgroups can be used (root). */
  cgroups: boolean;
}

const ip = (...args: string[]): string[] => ['ip', ...args];

/**
 * The bridge's own MAC address: locally administered, derived from its name. A bridge created without
 * one takes the lowest MAC of its ports and changes it as veths join and leave; every pod's ARP entry
 * for the gateway and the prober then points at an address nobody has until it expires (tens of
 * seconds of lost health probes and config fetches after a `scale`). An address set by hand is kept.
 */
export function bridgeMac(bridge: string): string {
  const bytes = createHash('sha256').update(`meshlet bridge ${bridge}`).digest().subarray(0, 6);
  bytes[0] = ((bytes[0] as number) & 0xfc) | 0x02; // unicast, locally administered
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Steps that set up the mesh itself, in order. */
export function planMeshSetup(ctx: MeshPlanContext): Step[] {
  const steps: Step[] = [
    { id: 'mesh/dir', title: `create state directory ${ctx.meshDir}`, do: [{ op: 'mkdir', path: ctx.meshDir }], undo: [{ op: 'remove', path: ctx.meshDir }] },
  ];
  if (ctx.cgroups) {
    steps.push({ id: 'mesh/cgroup', title: `create cgroup ${ctx.names.cgroup}`, do: [{ op: 'cgroup-create', path: ctx.names.cgroup }], undo: [{ op: 'cgroup-remove', path: ctx.names.cgroup }] });
  }
  steps.push({ id: 'mesh/sweep', title: 'mark processes of the mesh', do: [], undo: [{ op: 'sweep', owner: ctx.names.owner }] });
  if (ctx.isolation === 'process') return steps;
  const n = ctx.network;
  steps.push(
    {
      id: 'mesh/bridge',
      title: `create bridge ${n.bridge} ${n.bridgeIp}/${n.prefix}`,
      do: [{ op: 'exec', argv: ip('-batch', '-'), stdin: [`link add ${n.bridge} address ${bridgeMac(n.bridge)} type bridge`, `addr add ${n.bridgeIp}/${n.prefix} dev ${n.bridge}`, `link set ${n.bridge} up`, ''].join('\n') }],
      undo: [{ op: 'exec', argv: ip('link', 'del', n.bridge), absentOk: true }],
    },
    {
      id: 'mesh/vip-route',
      title: `route unreachable ${n.vipRange} on the host`,
      do: [{ op: 'exec', argv: ip('route', 'add', 'unreachable', n.vipRange) }],
      undo: [{ op: 'exec', argv: ip('route', 'del', 'unreachable', n.vipRange), absentOk: true }],
    },
  );
  const sysctls: Action[] = [];
  // Published ports are reachable from the host itself (127.0.0.1:<port>) only if the bridge may carry
  // loopback-sourced packets until MASQUERADE rewrites them.
  if (ctx.publishes) sysctls.push({ op: 'exec', argv: ['sysctl', '-q', '-w', `net.ipv4.conf.${n.bridge}.route_localnet=1`] });
  if (ctx.publishes || n.egress === 'nat') sysctls.push({ op: 'exec', argv: ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'] });
  if (sysctls.length > 0) steps.push({ id: 'mesh/sysctl', title: 'enable forwarding for published ports and NAT', do: sysctls, undo: [] });
  const removal = hostRulesRemoval(ctx.names.chains);
  steps.push({
    id: 'mesh/iptables',
    title: `add host iptables chains ML-${ctx.names.tag}-*`,
    do: [{ op: 'exec', argv: ['iptables-restore', '-w', '5', '--noflush'], stdin: hostRulesRestore({ chains: ctx.names.chains, bridge: n.bridge, subnet: n.subnet, egress: n.egress }) }],
    undo: removal.map((argv) => ({ op: 'exec' as const, argv, absentOk: true, untilAbsent: argv.includes('-D') })),
  });
  return steps;
}

/** One pod as the planner needs it. */
export interface PodPlan {
  name: string;
  ip: string;
  names: PodNames;
  /** The pod's directory under the mesh state dir (bundle, hosts file, logs). */
  dir: string;
  hosts: string;
  port: number | undefined;
  /** cpus, memory, pids of the service, applied to the pod's `app` cgroup. */
  limits: OciLimits | undefined;
  /** Present in netns isolation: the app container's OCI parameters. */
  container?: {
    args: readonly string[];
    env: Readonly<Record<string, string>>;
    workingDir: string;
    runcRoot: string;
    hostBase: HostBase;
  };
  /** Whether the app may reach the collector on the bridge (telemetry: auto). */
  collectorOnBridge: boolean;
}

/** runc's cgroup for the app container, below the `app` cgroup that carries the limits. */
export const appContainerCgroup = (podCgroup: string) => `/${podCgroup}/app/ctr`;

/** The bundle directory of a pod's app container. */
export const bundleDir = (podDir: string) => `${podDir}/bundle`;

/** The step that gives a pod its network, cgroup and bundle. */
export function planPodSetup(ctx: MeshPlanContext, pod: PodPlan): Step {
  const doActions: Action[] = [{ op: 'mkdir', path: pod.dir }];
  const undo: Action[] = [];
  if (ctx.cgroups) {
    // Limits go on `app/`, which the runtime owns; runc's container cgroup is `app/ctr` below it. The
    // OOM counter therefore survives the container (runc removes its own cgroup when the app exits).
    doActions.push({ op: 'cgroup-create', path: `${pod.names.cgroup}/sidecar` }, { op: 'cgroup-create', path: `${pod.names.cgroup}/app`, ...(pod.limits === undefined ? {} : { limits: pod.limits }) });
    undo.push({ op: 'cgroup-remove', path: pod.names.cgroup });
  }
  if (ctx.isolation === 'netns' && pod.container !== undefined) {
    const n = ctx.network;
    const { netns, veth } = pod.names;
    const rules = podIptablesRules({
      sidecarUid: SIDECAR_UID,
      inboundPort: SIDECAR_INBOUND_PORT,
      outboundPort: SIDECAR_OUTBOUND_PORT,
      inboundInterface: 'eth0',
      inboundPorts: pod.port === undefined ? [] : [pod.port],
      inboundBypassSources: [n.probeIp],
      outboundCidrs: [n.vipRange],
      lockdown: {
        interface: 'eth0',
        cidr: n.subnet,
        allow: pod.collectorOnBridge ? [{ ip: n.bridgeIp, port: COLLECTOR_OTLP_PORT }] : [],
        inboundAllowPorts: [SIDECAR_INBOUND_PORT, SIDECAR_ADMIN_PORT],
        bypassPorts: pod.port === undefined ? [] : [pod.port],
      },
    });
    const hostsPath = `/etc/netns/${netns}/hosts`;
    const bundle = bundleDir(pod.dir);
    const c = pod.container;
    const config = ociConfig({
      args: c.args,
      env: c.env,
      cwd: c.workingDir,
      hostname: pod.name,
      netnsPath: `/run/netns/${netns}`,
      cgroupsPath: appContainerCgroup(pod.names.cgroup),
      limits: undefined,
      hostsFile: hostsPath,
      hostDirs: c.hostBase.dirs,
      workingDir: c.workingDir,
    });
    doActions.push(
      { op: 'write', path: hostsPath, content: pod.hosts },
      // The pod's side (addresses, routes, its iptables) from files, by commands of the same `ip -batch`
      // that makes the netns and the veth: one process start of the daemon per pod instead of three —
      // the daemon forks for each, and ten pods' worth of them is what `up` waits on.
      {
        op: 'write',
        path: `${pod.dir}/net.batch`,
        content: [
          'link set lo up',
          `addr add ${pod.ip}/${n.prefix} dev eth0`,
          'link set eth0 up',
          `route add ${n.vipRange} via ${n.bridgeIp} dev eth0`,
          ...(n.egress === 'nat' ? [`route add default via ${n.bridgeIp} dev eth0`] : []),
          '',
        ].join('\n'),
      },
      { op: 'write', path: `${pod.dir}/iptables.rules`, content: rules.restore },
      {
        op: 'exec',
        argv: ip('-batch', '-'),
        stdin: [
          `netns add ${netns}`,
          `link add ${veth} type veth peer name eth0 netns ${netns}`,
          `link set ${veth} master ${n.bridge}`,
          `link set ${veth} up`,
          // Quoted: `ip -batch` splits a line at blanks, and the state directory may contain some.
          `netns exec ${netns} ip -batch "${pod.dir}/net.batch"`,
          `netns exec ${netns} iptables-restore -w 5 "${pod.dir}/iptables.rules"`,
          '',
        ].join('\n'),
      },
      ...Object.entries(c.hostBase.symlinks).map(([name, target]): Action => ({ op: 'symlink', path: `${bundle}/rootfs/${name}`, target })),
      { op: 'mkdir', path: `${bundle}/rootfs` },
      { op: 'write', path: `${bundle}/config.json`, content: `${JSON.stringify(config, null, 2)}\n` },
    );
    undo.push(
      { op: 'exec', argv: ['runc', '--root', c.runcRoot, 'delete', '--force', pod.names.container], absentOk: true },
      { op: 'exec', argv: ip('link', 'del', veth), absentOk: true },
      { op: 'exec', argv: ip('netns', 'del', netns), absentOk: true },
      { op: 'remove', path: `/etc/netns/${netns}` },
    );
  }
  undo.push({ op: 'remove', path: pod.dir });
  return { id: `pod/${pod.name}/net`, title: `set up pod ${pod.name} (${pod.ip})`, do: doActions, undo };
}

/** Journal ids that belong to a pod (its setup and the processes started in it). */
export const podJournalPrefix = (pod: string) => `pod/${pod}/`;
