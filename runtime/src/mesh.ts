// One running mesh: plans and applies its network, serves its sidecars' configs, starts the collector,
// supervises its pods (in dependency order), and changes at run time (scale, traffic, faults, a new
// spec). Everything it creates is journaled in the state file first, so `down` — or a later daemon,
// after a crash — removes exactly that.
import { dirname, join } from 'node:path';
import {
  COLLECTOR_OTLP_PORT,
  CONFIG_API,
  INFRA_EVENTS,
  RUNTIME_CONFIG_PORT,
  SEVERITY,
  SIDECAR_ADMIN_PORT,
  SIDECAR_INBOUND_PORT,
  SIDECAR_OUTBOUND_PORT,
  withoutPrivateKey,
  type MeshSpec,
  type SidecarConfig,
} from '@meshlet/wire';
import type { Step } from './actions.ts';
import { applyPlan, createJournal, teardown, type Journal } from './apply.ts';
import type { Cgroups } from './cgroups.ts';
import { cidrContains, hostAddress, loopbackTwin, parseCidr } from './cidr.ts';
import { buildSidecarConfig, faultKey, type PodView } from './config-builder.ts';
import { createConfigServer, type ConfigServer } from './config-server.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import type { Host } from './host.ts';
import { hostsFile } from './hosts-file.ts';
import { allocateIp, subnetLayout } from './ipam.ts';
import { createLogWriter, type LogWriter } from './log-store.ts';
import { caPaths, issueLeaf, mtlsSpecProblems, planMeshCa, renewAtMs, type Leaf } from './mesh-ca.ts';
import { desiredPods, type DesiredPod, type PodTemplate } from './model.ts';
import { meshNames, OWNER_ENV, podNames, type MeshNames, type PodNames } from './names.ts';
import { bundleDir, planMeshSetup, planPodSetup, podJournalPrefix, SIDECAR_UID, type HostBase, type MeshPlanContext, type NetworkFacts } from './plan.ts';
import { createPod, type Pod, type PodLauncher, type PodStatus } from './pod.ts';
import { createPortForwarder, type PortForwarder } from './port-forward.ts';
import { checkPortFree, findTool, gatherHostFacts, preflightProblems } from './preflight.ts';
import { execInContainer, runCommand, startContainer, startProcess, type Running } from './processes.ts';
import { signalProcess, startTicks, sweepOwner } from './procs.ts';
import { publishRestore } from './host-iptables.ts';
import { createStateWriter, meshDirOf, type MeshRecord } from './state.ts';
import { createTelemetryHub, type TelemetryHub } from './telemetry.ts';
import type { ActionDeps } from './actions.ts';

/** What every mesh of a daemon shares. */
export interface MeshEnv {
  stateRoot: string;
  host: Host;
  cgroups: Cgroups | undefined;
  hostBase: HostBase;
  /** `bin/meshlet.js`, started with `nodePath` for sidecars and the collector. */
  meshletBin: string;
  nodePath: string;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  onEvent(event: MeshEvent): void;
  statusIntervalMs?: number;
  stopGraceMs?: number;
  /** mTLS: re-issue each leaf this long after it was issued instead of at 2/3 of its life (tests). */
  leafRenewAfterMs?: number;
}

/** An event of the daemon's stream: infrastructure events and (for `up` in the foreground) app output. */
export interface MeshEvent {
  mesh: string;
  pod?: string;
  kind: 'event' | 'output';
  name: string;
  message: string;
  atMs: number;
}

export interface MeshInput {
  spec: MeshSpec;
  specPath: string;
  specText: string;
  isolation: 'netns' | 'process';
}

export interface MeshStatus {
  name: string;
  isolation: 'netns' | 'process';
  specPath: string;
  createdAtMs: number;
  network: NetworkFacts;
  configApi: string;
  collector: { otlp: string; ui: string } | { url: string } | null;
  vips: Record<string, string>;
  pods: PodStatus[];
}

export interface Mesh {
  readonly name: string;
  status(): MeshStatus;
  /** Applies a changed spec to the running mesh (pods added, removed or recreated; configs pushed). */
  apply(input: MeshInput): Promise<void>;
  scale(service: string, replicas: number, version?: string): Promise<void>;
  traffic(service: string, weights: Record<string, number>): void;
  fault(service: string, fault: string, enabled: boolean): void;
  podAction(target: string, action: 'stop' | 'start' | 'restart'): Promise<string[]>;
  /** Pods of a target (pod name, service name, or all when undefined). */
  select(target: string | undefined): Pod[];
  podDir(pod: string): string;
  runcRoot(): string;
  /** The env of a pod's app (for `exec` in process isolation). */
  appEnv(pod: string): Record<string, string> | undefined;
  template(pod: string): PodTemplate | undefined;
  /** A pod's sidecar config as the runtime builds it, private key redacted. */
  config(pod: string): SidecarConfig | undefined;
  /** Under mtls: the mesh CA certificate's path, and a pod's current leaf (no key). */
  caCertPath(): string | undefined;
  certificate(pod: string): { identity: string; serial: string; notBefore: string; notAfter: string; renewAt: string } | undefined;
  waitSettled(timeoutMs: number): Promise<{ ok: boolean; notReady: string[]; failed: string[] }>;
  down(): Promise<string[]>;
}

const STOP_GRACE_MS = 5_000;
/**
 * Pods set up at once (netns, veth, addresses, pod iptables: a few short tool runs each). Their sidecars
 * start only when every pod of the batch has its network, so a small limit left the CPUs idle while
 * ten pods were set up four at a time.
 */
const POD_SETUP_CONCURRENCY = 16;
const LEAF_RETRY_MS = 60_000; // 1 min: a failed re-issue is retried long before the old leaf expires

/** The sidecar's command line for a pod. */
function sidecarArgv(env: MeshEnv, configUrl: string, admin: string): string[] {
  // The sidecar's V8 flags (bin/meshlet.js `nodeFlags`, which would otherwise re-execute the process
  // to add them): a 2 MiB young generation — less memory and more requests/s (bench/README.md, "Proxy");
  // WebAssembly tier-up (undici's HTTP parser) only once the sidecar carries real traffic, not after its
  // first few responses.
  return [env.nodePath, '--max-semi-space-size=2', '--wasm-tiering-budget=130000000', env.meshletBin, 'proxy', '--config-url', configUrl, '--admin', admin];
}

/** Network facts of a new mesh. */
function networkFacts(spec: MeshSpec, isolation: 'netns' | 'process'): NetworkFacts {
  const subnet = isolation === 'process' ? loopbackTwin(parseCidr(spec.network.subnet)).text : spec.network.subnet;
  const layout = subnetLayout(subnet);
  return {
    bridge: spec.network.bridge,
    subnet: layout.cidr.text,
    prefix: layout.cidr.prefix,
    vipRange: parseCidr(spec.network.vipRange).text,
    bridgeIp: layout.bridgeIp,
    probeIp: layout.probeIp,
    egress: spec.network.egress,
  };
}

function actionDeps(env: MeshEnv): ActionDeps {
  return {
    host: env.host,
    cgroups: env.cgroups,
    signal: (pid, ticks, signal, group) => signalProcess(pid, ticks, signal, group),
    sweep: (owner) => sweepOwner(OWNER_ENV, owner),
  };
}

/**
 * Removes everything a mesh recorded in its state file (a mesh whose daemon died). Returns the
 * problems; an empty list means nothing is left.
 */
export async function teardownRecord(env: Pick<MeshEnv, 'host' | 'cgroups'>, record: MeshRecord, dir: string): Promise<string[]> {
  const write = createStateWriter(dir);
  const journal = createJournal(record.journal, (entries) => write({ ...record, journal: [...entries] }));
  const problems = await teardown(journal, {
    host: env.host,
    cgroups: env.cgroups,
    signal: (pid, ticks, signal, group) => signalProcess(pid, ticks, signal, group),
    sweep: (owner) => sweepOwner(OWNER_ENV, owner),
  });
  if (problems.length === 0) await write({ ...record, journal: [] });
  return problems;
}

/** Creates a mesh: checks, plans and applies its network, starts collector, config API and pods. */
export async function createMesh(env: MeshEnv, input: MeshInput): Promise<Mesh> {
  let spec = input.spec;
  const isolation = input.isolation;
  const mesh = spec.name;
  const meshDir = meshDirOf(env.stateRoot, mesh);
  const names: MeshNames = meshNames(env.stateRoot, mesh);
  const network = networkFacts(spec, isolation);
  const layout = subnetLayout(network.subnet);
  const runcRoot = join(meshDir, 'runc');
  const writer = createStateWriter(meshDir);
  const ticks = await startTicks(process.pid);
  const record: MeshRecord = {
    format: 1,
    mesh,
    specPath: input.specPath,
    specText: input.specText,
    isolation,
    owner: names.owner,
    daemonPid: process.pid,
    daemonStartTicks: ticks,
    createdAtMs: Date.now(),
    network,
    vips: {},
    pods: {},
    replicas: {},
    traffic: {},
    faults: {},
    journal: [],
  };
  const journal: Journal = createJournal([], (entries) => writer({ ...record, journal: [...entries] }));
  const persist = () => writer({ ...record, journal: [...journal.entries()] });
  const deps = actionDeps(env);
  const planCtx = (): MeshPlanContext => ({
    mesh,
    meshDir,
    names,
    isolation,
    network,
    publishes: Object.values(spec.services).some((s) => s.publish.length > 0),
    cgroups: env.cgroups !== undefined,
  });
  const pods = new Map<string, Pod>();
  const desired = new Map<string, DesiredPod>();
  const podNamesOf = (pod: string): PodNames => podNames(names, mesh, pod);
  const podDir = (pod: string) => join(meshDir, 'pods', pod);
  const logWriters = new Map<string, { app: LogWriter; sidecar: LogWriter }>();
  const forwarders = new Map<string, PortForwarder>();
  let configServer: ConfigServer | undefined;
  let collector: Running | undefined;
  let collectorInfo: { otlp: string; ui: string } | undefined;
  let telemetry: TelemetryHub | undefined;
  let closing = false;
  // mTLS: the mesh CA (created by the mesh/ca step) and each pod's current leaf; keys stay in memory.
  const ca = caPaths(meshDir);
  let caPem: string | undefined;
  const leaves = new Map<string, Leaf & { renewAtMs: number }>();
  let renewTimer: NodeJS.Timeout | undefined;

  const specDir = () => dirname(input.specPath);
  const collectorUrl = (): string | null => {
    const c = spec.telemetry.collector;
    if (c === 'none') return null;
    if (c === 'auto') return `http://${network.bridgeIp}:${COLLECTOR_OTLP_PORT}`;
    return c;
  };
  const configUrl = (pod: string) => `http://${network.bridgeIp}:${RUNTIME_CONFIG_PORT}${CONFIG_API.podConfigPath(pod)}`;

  // ---- VIPs and IPs ---------------------------------------------------------------------------
  const allocateVips = () => {
    const range = parseCidr(network.vipRange);
    const used = new Set(Object.values(record.vips));
    for (const service of Object.keys(spec.services).sort()) {
      if (record.vips[service] !== undefined) continue;
      let n = 1;
      while (used.has(hostAddress(range, n))) n++;
      record.vips[service] = hostAddress(range, n);
      used.add(record.vips[service]);
    }
    for (const service of Object.keys(record.vips)) if (spec.services[service] === undefined) delete record.vips[service];
  };

  /** Run-time overrides of services, versions and faults the spec no longer has are dropped. */
  const pruneOverrides = () => {
    for (const [service, weights] of Object.entries(record.traffic)) {
      const versions = Object.keys(spec.services[service]?.versions ?? {});
      const kept = Object.fromEntries(Object.entries(weights).filter(([v]) => versions.includes(v)));
      if (Object.keys(kept).length === 0 || Object.values(kept).every((w) => w === 0)) delete record.traffic[service];
      else record.traffic[service] = kept;
    }
    for (const [service, switches] of Object.entries(record.faults)) {
      const keys = (spec.services[service]?.faults ?? []).map((f, i) => faultKey(f, i));
      record.faults[service] = Object.fromEntries(Object.entries(switches).filter(([k]) => keys.includes(k)));
    }
    for (const [service, o] of Object.entries(record.replicas)) {
      const svc = spec.services[service];
      if (svc === undefined) delete record.replicas[service];
      else if (o.versions !== undefined) o.versions = Object.fromEntries(Object.entries(o.versions).filter(([v]) => svc.versions?.[v] !== undefined));
    }
  };

  // ---- environment of a pod's programs ----------------------------------------------------------
  const appEnv = (pod: DesiredPod, ip: string): Record<string, string> => {
    const url = collectorUrl();
    const t = pod.template;
    const base: Record<string, string> = {
      PATH: isolation === 'netns' ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : (process.env['PATH'] ?? '/usr/bin:/bin'),
      HOME: isolation === 'netns' ? '/tmp' : (process.env['HOME'] ?? '/tmp'),
      HOSTNAME: pod.name,
      MESHLET_MESH: mesh,
      MESHLET_SERVICE: pod.service,
      MESHLET_POD: pod.name,
      MESHLET_POD_IP: ip,
      HOST: isolation === 'netns' ? '0.0.0.0' : ip,
      OTEL_SERVICE_NAME: pod.service,
      OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${pod.name},meshlet.pod.name=${pod.name},meshlet.mesh=${mesh}${pod.version === undefined ? '' : `,service.version=${pod.version}`}`,
    };
    if (pod.version !== undefined) base['MESHLET_SERVICE_VERSION'] = pod.version;
    if (t.port !== undefined) base['PORT'] = String(t.port);
    if (url !== null) base['OTEL_EXPORTER_OTLP_ENDPOINT'] = url;
    if (isolation === 'process') {
      // No iptables here: apps reach the mesh through their sidecar as an HTTP proxy.
      const proxy = `http://${ip}:${SIDECAR_OUTBOUND_PORT}`;
      const noProxy = ['localhost', '127.0.0.1', ip, ...(url === null ? [] : [new URL(url).hostname])].join(',');
      Object.assign(base, { HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: noProxy, no_proxy: noProxy, NODE_USE_ENV_PROXY: '1' });
    }
    return { ...base, ...t.env, [OWNER_ENV]: names.owner };
  };

  // The V8 compile cache (shared by every sidecar of the daemon) shortens each sidecar's start.
  const compileCache = join(env.stateRoot, 'compile-cache');
  // MALLOC_TRIM_THRESHOLD_: glibc gives freed memory at the top of its heap back to the kernel above
  // 128 KiB, but once a large (mmapped) block is freed it raises that threshold (up to 32 MiB) for good:
  // the buffers of a start-up — compiling the bundle, writing the compile cache — then stay resident in
  // an idle sidecar. A fixed threshold turns that off: idle RSS -1.9 MB with a warm compile cache, up to
  // -6 MB for the sidecar that writes it; requests/s and CPU per request unchanged (proxy/README.md,
  // "Start-up cost").
  const sidecarEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/tmp', NODE_COMPILE_CACHE: compileCache, MALLOC_TRIM_THRESHOLD_: '131072', [OWNER_ENV]: names.owner });

  const launcher = (pod: DesiredPod, ip: string, pn: PodNames): PodLauncher => {
    const cgroup = (kind: 'sidecar' | 'app') => `${pn.cgroup}/${kind}`;
    const joinCgroup = async (kind: 'sidecar' | 'app', proc: Running) => {
      if (env.cgroups !== undefined) await env.cgroups.addProcess(cgroup(kind), proc.pid).catch((err: Error) => env.log('warn', `cannot move ${pod.name} ${kind} into its cgroup: ${err.message}`));
    };
    if (isolation === 'netns') {
      return {
        async startSidecar(onOutput) {
          const argv = ['nsenter', `--net=/run/netns/${pn.netns}`, '--setuid', String(SIDECAR_UID), '--setgid', String(SIDECAR_UID), '--', ...sidecarArgv(env, configUrl(pod.name), `0.0.0.0:${SIDECAR_ADMIN_PORT}`)];
          const proc = await startProcess(argv, { env: sidecarEnv(), cwd: '/', onOutput });
          await joinCgroup('sidecar', proc);
          return proc;
        },
        // OOM kills are only possible under the pod's own limit; without one there is nothing to watch.
        startApp: (onOutput, onOom) =>
          startContainer({ root: runcRoot, host: env.host }, { id: pn.container, bundle: bundleDir(podDir(pod.name)), owner: names.owner, onOutput, ...(pod.template.resources?.memoryBytes === undefined ? {} : { onOom }) }),
        execCheck: (argv, timeoutMs) => execInContainer({ root: runcRoot, host: env.host }, pn.container, argv, timeoutMs),
        probeTarget: { host: ip, localAddress: network.probeIp },
        admin: { host: ip, port: SIDECAR_ADMIN_PORT },
      };
    }
    return {
      async startSidecar(onOutput) {
        const proc = await startProcess(sidecarArgv(env, configUrl(pod.name), `${ip}:${SIDECAR_ADMIN_PORT}`), { env: sidecarEnv(), cwd: '/', onOutput });
        await joinCgroup('sidecar', proc);
        return proc;
      },
      async startApp(onOutput) {
        const proc = await startProcess(pod.template.command, { env: appEnv(pod, ip), cwd: pod.template.workingDir, onOutput });
        await joinCgroup('app', proc);
        return proc;
      },
      execCheck: (argv, timeoutMs) => runCommand(argv, { env: appEnv(pod, ip), cwd: pod.template.workingDir, timeoutMs }),
      probeTarget: { host: ip },
      admin: { host: ip, port: SIDECAR_ADMIN_PORT },
    };
  };

  // ---- config push and published ports --------------------------------------------------------
  let pushTimer: NodeJS.Timeout | undefined;
  const podViews = (): PodView[] => [...pods.values()].map((p) => ({ name: p.name, service: p.service, version: p.version, ip: p.ip, ready: p.status().ready }));
  const configs = (): Map<string, SidecarConfig> => {
    const views = podViews();
    const ctx = { spec, pods: views, vips: record.vips, overrides: { traffic: record.traffic, faults: record.faults }, collectorUrl: collectorUrl(), isolation, ...(caPem === undefined ? {} : { tls: { caPem, leaves } }) };
    return new Map(views.map((v) => [v.name, buildSidecarConfig(ctx, v)]));
  };
  let publishChain: Promise<void> = Promise.resolve();
  const updatePublished = () => {
    const entries = Object.entries(spec.services).flatMap(([name, svc]) =>
      svc.publish.map((p) => ({
        hostIp: p.hostIp,
        hostPort: p.hostPort,
        targets: [...pods.values()].filter((pod) => pod.service === name && pod.status().ready).map((pod) => `${pod.ip}:${isolation === 'netns' ? p.containerPort : SIDECAR_INBOUND_PORT}`),
      })),
    );
    if (isolation === 'netns') {
      if (!planCtx().publishes) return;
      const text = publishRestore(names.chains.publish, entries);
      publishChain = publishChain
        .then(() => env.host.exec(['iptables-restore', '-w', '5', '--noflush'], { stdin: text }))
        .then(
          () => undefined,
          (err: Error) => env.log('warn', `updating published ports failed: ${err.message}`),
        );
    } else {
      for (const e of entries) forwarders.get(`${e.hostIp}:${e.hostPort}`)?.setTargets(e.targets);
    }
  };
  const pushNow = () => {
    pushTimer = undefined;
    if (closing) return;
    configServer?.update(configs());
    updatePublished();
  };
  /** Coalesces bursts of changes (a scale adds several pods) into one push, well within a second. */
  const schedulePush = () => {
    if (pushTimer !== undefined || closing) return;
    pushTimer = setTimeout(pushNow, 20);
  };

  const emitEvent = (event: Omit<MeshEvent, 'mesh' | 'atMs'> & { atMs?: number }) => env.onEvent({ mesh, atMs: Date.now(), ...event });

  // ---- mTLS leaves ----------------------------------------------------------------------------
  const issue = async (pod: { name: string; service: string }): Promise<void> => {
    if (caPem === undefined) throw new Error(`mtls: the CA of mesh ${mesh} is not there`);
    const leaf = await issueLeaf(env.host, { ...ca, pem: caPem }, { mesh, service: pod.service, pod: pod.name });
    leaves.set(pod.name, { ...leaf, renewAtMs: env.leafRenewAfterMs === undefined ? renewAtMs(leaf) : Date.now() + env.leafRenewAfterMs });
  };
  /** Re-issues due leaves (at 2/3 of their life), pushes them, and sleeps until the next one is due. */
  const scheduleRenewal = (delayMs?: number) => {
    if (renewTimer !== undefined) clearTimeout(renewTimer);
    renewTimer = undefined;
    if (closing || leaves.size === 0) return;
    const next = Math.min(...[...leaves.values()].map((l) => l.renewAtMs));
    // setTimeout holds at most 2^31-1 ms (~24.8 days); a later wake-up just reschedules.
    renewTimer = setTimeout(() => void renewDue(), Math.min(delayMs ?? Math.max(0, next - Date.now()), 2 ** 31 - 1));
    renewTimer.unref();
  };
  const renewDue = async () => {
    renewTimer = undefined;
    const now = Date.now();
    let failed = false;
    for (const [name, leaf] of leaves) {
      if (leaf.renewAtMs > now || closing) continue;
      const pod = pods.get(name);
      if (pod === undefined) continue;
      try {
        await issue({ name, service: pod.service });
        emitEvent({ pod: name, kind: 'event', name: 'meshlet.pod.certificate_renewed', message: `new certificate for ${leaf.identity}, valid until ${new Date(leaves.get(name)?.notAfterMs ?? 0).toISOString()}` });
      } catch (err) {
        failed = true;
        env.log('warn', `re-issuing the certificate of ${name} failed (the current one is valid until ${new Date(leaf.notAfterMs).toISOString()}): ${(err as Error).message}`);
      }
    }
    schedulePush();
    scheduleRenewal(failed ? LEAF_RETRY_MS : undefined);
  };

  // ---- pods -----------------------------------------------------------------------------------
  const addPods = async (toAdd: DesiredPod[]): Promise<void> => {
    if (toAdd.length === 0) return;
    // Certificates first: a sidecar of an mTLS mesh must get its leaf with its very first config.
    if (spec.mtls) {
      await Promise.all(toAdd.map((pod) => issue(pod))).catch((err: Error) => {
        for (const pod of toAdd) leaves.delete(pod.name);
        throw new RuntimeError(ERROR_CODES.exec, `issuing sidecar certificates failed: ${err.message}`, { hint: 'is openssl installed (scripts/deps.sh)?' });
      });
      scheduleRenewal();
    }
    const taken = new Set(Object.values(record.pods).map((p) => p.ip));
    const steps: Step[] = [];
    for (const pod of toAdd) {
      const ip = allocateIp(layout, taken);
      taken.add(ip);
      record.pods[pod.name] = { ip, service: pod.service, ...(pod.version === undefined ? {} : { version: pod.version }), index: pod.index };
      const pn = podNamesOf(pod.name);
      const t = pod.template;
      steps.push(
        planPodSetup(planCtx(), {
          name: pod.name,
          ip,
          names: pn,
          dir: podDir(pod.name),
          hosts: hostsFile({ pod: pod.name, podIp: ip, mesh, vips: record.vips }),
          port: t.port,
          limits: t.resources,
          collectorOnBridge: spec.telemetry.collector === 'auto',
          ...(isolation === 'netns' ? { container: { args: t.command, env: appEnv(pod, ip), workingDir: t.workingDir, runcRoot, hostBase: env.hostBase } } : {}),
        }),
      );
    }
    await persist();
    try {
      await applyPlan([steps], { deps, journal, concurrency: POD_SETUP_CONCURRENCY });
    } catch (err) {
      for (const pod of toAdd) {
        delete record.pods[pod.name];
        leaves.delete(pod.name);
      }
      await persist();
      throw err;
    }
    for (const pod of toAdd) {
      const ip = (record.pods[pod.name] as { ip: string }).ip;
      const pn = podNamesOf(pod.name);
      const logs = { app: createLogWriter(join(podDir(pod.name), 'logs', 'app.log')), sidecar: createLogWriter(join(podDir(pod.name), 'logs', 'sidecar.log')) };
      logWriters.set(pod.name, logs);
      const tel = telemetry?.forPod({ mesh, service: pod.service, version: pod.version, pod: pod.name, ip });
      const p = createPod({
        mesh,
        pod,
        ip,
        names: isolation === 'netns' || env.cgroups !== undefined ? pn : undefined,
        hasNetns: isolation === 'netns',
        launcher: launcher(pod, ip, pn),
        cgroups: env.cgroups,
        telemetry: tel ?? { event() {}, output() {}, close: () => Promise.resolve() },
        logs: {
          app: { ...logs.app, write: (s, l, t) => (logs.app.write(s, l, t), emitEvent({ pod: pod.name, kind: 'output', name: 'app', message: l })) },
          sidecar: logs.sidecar,
        },
        onChange: schedulePush,
        onEvent: (e) => emitEvent({ pod: e.pod, kind: 'event', name: e.name, message: e.message, atMs: e.atMs }),
        track: async (kind, proc) => {
          if (proc === undefined) return journal.forget([`${podJournalPrefix(pod.name)}${kind}`]);
          await journal.record(`${podJournalPrefix(pod.name)}${kind}`, [{ op: 'kill', pid: proc.pid, ...(proc.startTicks === undefined ? {} : { startTicks: proc.startTicks }), group: kind === 'sidecar' || isolation === 'process' }]);
        },
        ...(env.statusIntervalMs === undefined ? {} : { statusIntervalMs: env.statusIntervalMs }),
        stopGraceMs: env.stopGraceMs ?? STOP_GRACE_MS,
        beforeFirstApp: () => dependenciesReady(pod),
      });
      pods.set(pod.name, p);
      desired.set(pod.name, pod);
    }
    schedulePush();
    // Every pod's sidecar starts now; each app waits for what its service depends on (beforeFirstApp).
    for (const pod of toAdd) void pods.get(pod.name)?.start();
  };

  const dependenciesReady = async (pod: DesiredPod): Promise<boolean> => {
    const deps = spec.services[pod.service]?.dependsOn ?? {};
    for (const [dep, condition] of Object.entries(deps)) {
      const ok = await waitForService(dep, condition, 300_000); // 5 min
      if (!ok) {
        if (!closing) emitEvent({ pod: pod.name, kind: 'event', name: 'meshlet.pod.waiting', message: `gave up waiting for ${dep} to be ${condition}` });
        return false;
      }
    }
    return !closing;
  };

  const waitForService = async (service: string, condition: 'started' | 'healthy', timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (closing) return false;
      const members = [...pods.values()].filter((p) => p.service === service);
      const statuses = members.map((p) => p.status());
      if (condition === 'started' ? statuses.every((s) => s.startedAtMs !== undefined || s.state === 'exited') : statuses.length > 0 && statuses.every((s) => s.ready)) return true;
      if (statuses.some((s) => s.state === 'failed') || Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const removePods = async (names: string[]): Promise<string[]> => {
    const problems: string[] = [];
    await Promise.all(
      names.map(async (name) => {
        const p = pods.get(name);
        if (p !== undefined) {
          await p.close();
          telemetry?.forPod({ mesh, service: p.service, version: p.version, pod: name, ip: p.ip }).event(INFRA_EVENTS.removed, {}, `${name} removed`);
          emitEvent({ pod: name, kind: 'event', name: INFRA_EVENTS.removed, message: 'removed' });
        }
        pods.delete(name);
        desired.delete(name);
        leaves.delete(name);
        schedulePush();
        await logWriters.get(name)?.app.close();
        await logWriters.get(name)?.sidecar.close();
        logWriters.delete(name);
        problems.push(...(await teardown(journal, deps, (id) => id.startsWith(podJournalPrefix(name)))));
        delete record.pods[name];
      }),
    );
    await persist();
    return problems;
  };

  /** Brings the set of pods to what the spec and overrides ask for. */
  const reconcilePods = async () => {
    const want = desiredPods(spec, specDir(), record.replicas);
    const wantNames = new Set(want.map((p) => p.name));
    const stale = [...desired.entries()].filter(([name, d]) => {
      const w = want.find((p) => p.name === name);
      return !wantNames.has(name) || JSON.stringify(w?.template) !== JSON.stringify(d.template);
    });
    if (stale.length > 0) await removePods(stale.map(([name]) => name));
    await addPods(want.filter((p) => !pods.has(p.name)));
  };

  // ---- mesh setup -----------------------------------------------------------------------------
  const preflight = async () => {
    const problems: RuntimeError[] = [];
    const want = desiredPods(spec, specDir(), {});
    if (isolation === 'netns') {
      const claims = {
        subnet: network.subnet,
        vipRange: network.vipRange,
        bridge: network.bridge,
        netns: want.map((p) => podNamesOf(p.name).netns),
        links: want.map((p) => podNamesOf(p.name).veth),
        chains: Object.values(names.chains),
        cgroups: env.cgroups === undefined ? [] : [names.cgroup],
      };
      const facts = await gatherHostFacts(env.host, { chains: claims.chains, cgroups: claims.cgroups, cgroupExists: (p) => env.cgroups?.exists(p) ?? Promise.resolve(false) });
      problems.push(...preflightProblems(claims, facts));
    } else {
      const addresses = want.map((_, i) => hostAddress(layout.cidr, i + 2));
      for (const ip of addresses) {
        for (const port of [SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT]) {
          const p = await checkPortFree(ip, port, `pod address ${ip}`);
          if (p !== undefined) problems.push(p);
        }
      }
      const own: [number, string][] = [[RUNTIME_CONFIG_PORT, 'config API'], ...(spec.telemetry.collector === 'auto' ? [[COLLECTOR_OTLP_PORT, 'collector OTLP'] as [number, string]] : [])];
      for (const [port, what] of own) {
        const p = await checkPortFree(network.bridgeIp, port, what);
        if (p !== undefined) problems.push(p);
      }
    }
    for (const [name, svc] of Object.entries(spec.services)) {
      for (const p of svc.publish) {
        const problem = await checkPortFree(p.hostIp, p.hostPort, `services.${name}.publish`);
        if (problem !== undefined) problems.push(problem);
      }
    }
    if (spec.telemetry.collector === 'auto') {
      const [uiHost, uiPort] = spec.telemetry.ui.split(':') as [string, string];
      const p = await checkPortFree(uiHost, Number(uiPort), 'telemetry.ui (collector)');
      if (p !== undefined) problems.push(p);
    }
    const url = collectorUrl();
    if (isolation === 'netns' && url !== null && spec.telemetry.collector !== 'auto') {
      // Pods have routes to the pod subnet and the VIP range only (and a default route with egress: nat).
      const host = new URL(url).hostname;
      const reachable = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? cidrContains(layout.cidr, host) || (network.egress === 'nat' && !host.startsWith('127.')) : network.egress === 'nat';
      if (!reachable) {
        problems.push(new RuntimeError(ERROR_CODES.spec, `telemetry.collector ${url} cannot be reached from pods: they have routes to ${network.subnet} only${network.egress === 'nat' ? ' and the host\'s default route (not its loopback)' : ''}`, {
          hint: `use collector: auto, a collector on the bridge address (http://${network.bridgeIp}:4318), or network.egress: nat`,
        }));
      }
    }
    problems.push(...mtlsSpecProblems(spec));
    if (spec.mtls && (await findTool('openssl')) === undefined) {
      problems.push(new RuntimeError(ERROR_CODES.missingTool, 'mtls: true needs `openssl` (the runtime issues the sidecar certificates with it), which is not installed', { hint: 'install the Debian package openssl (scripts/deps.sh does it)' }));
    }
    if (problems.length > 0) {
      const first = problems[0] as RuntimeError;
      throw new RuntimeError(first.code, problems.length === 1 ? first.message : `${problems.length} problems prevent mesh ${mesh} from starting; nothing was created`, {
        details: problems.length === 1 ? [] : problems.map((p) => `${p.message}${p.hint === undefined ? '' : ` (${p.hint})`}`),
        ...(problems.length === 1 && first.hint !== undefined ? { hint: first.hint } : {}),
      });
    }
  };

  const startCollector = async () => {
    if (spec.telemetry.collector !== 'auto') return;
    const dataDir = join(specDir(), '.meshlet', mesh);
    const argv = [env.nodePath, env.meshletBin, 'collector', '--otlp', `${network.bridgeIp}:${COLLECTOR_OTLP_PORT}`, '--http', spec.telemetry.ui, '--data', dataDir];
    let listening: ((info: { otlp: string; ui: string }) => void) | undefined;
    const announced = new Promise<{ otlp: string; ui: string }>((resolve) => (listening = resolve));
    const stderrTail: string[] = [];
    const proc = await startProcess(argv, {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', [OWNER_ENV]: names.owner },
      cwd: specDir(),
      onOutput: (stream, line) => {
        if (stream === 'stderr') {
          stderrTail.push(line);
          if (stderrTail.length > 5) stderrTail.shift();
        }
        try {
          const v = JSON.parse(line) as { msg?: string; otlp?: string; http?: string };
          if (v.msg === 'listening' && typeof v.otlp === 'string' && typeof v.http === 'string') listening?.({ otlp: v.otlp, ui: v.http });
        } catch {
          // not JSON
        }
      },
    });
    collector = proc;
    await journal.record('mesh/collector', [{ op: 'kill', pid: proc.pid, ...(proc.startTicks === undefined ? {} : { startTicks: proc.startTicks }), group: true }]);
    if (env.cgroups !== undefined) {
      await env.cgroups.create(`${names.cgroup}/collector`).catch(() => {});
      await env.cgroups.addProcess(`${names.cgroup}/collector`, proc.pid).catch(() => {});
    }
    const result = await Promise.race([announced, proc.exited.then(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000).unref())]);
    if (result === undefined) {
      throw new RuntimeError(ERROR_CODES.exec, `the collector did not start: ${stderrTail.join(' / ') || 'no output'}`, { hint: 'set telemetry.collector: none to run without it, or check `meshlet collector --help`' });
    }
    collectorInfo = result;
    record.collector = { pid: proc.pid, otlp: result.otlp, ui: result.ui, dataDir };
    await persist();
    void proc.exited.then((exit) => {
      if (!closing) env.log('error', `collector of mesh ${mesh} exited (${exit.code ?? exit.signal})`);
    });
  };

  const startPublishers = async () => {
    if (isolation !== 'process') return;
    for (const svc of Object.values(spec.services)) {
      for (const p of svc.publish) {
        const key = `${p.hostIp}:${p.hostPort}`;
        if (!forwarders.has(key)) forwarders.set(key, await createPortForwarder({ hostIp: p.hostIp, hostPort: p.hostPort }));
      }
    }
  };

  const shutdown = async (): Promise<string[]> => {
    closing = true;
    if (pushTimer !== undefined) clearTimeout(pushTimer);
    if (renewTimer !== undefined) clearTimeout(renewTimer);
    const problems = await removePods([...pods.keys()]);
    for (const f of forwarders.values()) await f.close();
    forwarders.clear();
    await telemetry?.flush();
    await telemetry?.close();
    if (collector !== undefined) {
      await collector.stop(5_000);
      await journal.forget(['mesh/collector']);
    }
    await configServer?.close();
    problems.push(...(await teardown(journal, deps)));
    return problems;
  };

  // ---- bring it up ----------------------------------------------------------------------------
  await preflight();
  allocateVips();
  try {
    await applyPlan(planMeshSetup(planCtx()).map((s) => [s]), { deps, journal });
    if (isolation === 'netns') {
      // The prober's address sits on the bridge beside the gateway address.
      const probeStep: Step = {
        id: 'mesh/prober',
        title: `add prober address ${network.probeIp} to ${network.bridge}`,
        do: [{ op: 'exec', argv: ['ip', 'addr', 'add', `${network.probeIp}/${network.prefix}`, 'dev', network.bridge] }],
        undo: [],
      };
      await applyPlan([[probeStep]], { deps, journal });
    }
    if (spec.mtls) {
      await applyPlan([[planMeshCa({ mesh, meshDir })]], { deps, journal });
      caPem = await env.host.readFile(ca.cert);
      if (caPem === undefined) throw new RuntimeError(ERROR_CODES.exec, `the mesh CA certificate ${ca.cert} was not written`);
    }
    configServer = await createConfigServer({
      host: network.bridgeIp,
      port: RUNTIME_CONFIG_PORT,
      // In netns isolation a sidecar reaches the config API from its pod's own address, which no other
      // process can take (no CAP_NET_ADMIN in pods): only the pod itself reads its private key.
      ...(isolation === 'netns' ? { mayReadKey: (pod: string, remote: string) => record.pods[pod]?.ip === remote } : {}),
    });
    await startCollector();
    telemetry = createTelemetryHub({ collectorUrl: collectorUrl(), mesh });
    await startPublishers();
    await reconcilePods();
  } catch (err) {
    const problems = await shutdown();
    if (problems.length > 0 && err instanceof RuntimeError) throw new RuntimeError(err.code, err.message, { details: [...err.details, 'cleanup was incomplete:', ...problems], hint: 'run `meshlet down` to retry the cleanup' });
    throw err;
  }

  const self: Mesh = {
    name: mesh,
    status: () => ({
      name: mesh,
      isolation,
      specPath: input.specPath,
      createdAtMs: record.createdAtMs,
      network,
      configApi: configServer?.address() ?? '',
      collector: spec.telemetry.collector === 'auto' ? (collectorInfo ?? null) : spec.telemetry.collector === 'none' ? null : { url: spec.telemetry.collector },
      vips: { ...record.vips },
      pods: [...pods.values()].map((p) => p.status()).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
    }),
    async apply(next) {
      if (next.isolation !== isolation) throw new RuntimeError(ERROR_CODES.conflict, `mesh ${mesh} runs with --isolation=${isolation}; run \`meshlet down\` first to change it`);
      const a = next.spec.network;
      const b = spec.network;
      if (JSON.stringify(a) !== JSON.stringify(b) || JSON.stringify(next.spec.telemetry) !== JSON.stringify(spec.telemetry) || next.spec.mtls !== spec.mtls) {
        throw new RuntimeError(ERROR_CODES.conflict, `the network, telemetry or mtls settings of mesh ${mesh} changed; run \`meshlet down\` first to apply them`);
      }
      const publishesBefore = JSON.stringify(Object.values(spec.services).map((s) => s.publish));
      spec = next.spec;
      record.specText = next.specText;
      pruneOverrides();
      allocateVips();
      await persist();
      // New services need their names in every pod's hosts file: rewrite in place (the containers
      // see the file through a bind mount, which a rename would detach).
      for (const [name, rec] of Object.entries(record.pods)) {
        if (isolation !== 'netns') break;
        const { writeFile } = await import('node:fs/promises');
        await writeFile(`/etc/netns/${podNamesOf(name).netns}/hosts`, hostsFile({ pod: name, podIp: rec.ip, mesh, vips: record.vips })).catch(() => {});
      }
      await startPublishers();
      if (publishesBefore !== JSON.stringify(Object.values(spec.services).map((s) => s.publish))) updatePublished();
      await reconcilePods();
      schedulePush();
    },
    async scale(service, replicas, version) {
      const svc = spec.services[service];
      if (svc === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no service "${service}" in mesh ${mesh} (services: ${Object.keys(spec.services).join(', ')})`);
      if (!Number.isInteger(replicas) || replicas < 0 || replicas > 64) throw new RuntimeError(ERROR_CODES.badRequest, `replicas must be an integer from 0 to 64, got ${replicas}`);
      if (version !== undefined) {
        if (svc.versions?.[version] === undefined) throw new RuntimeError(ERROR_CODES.notFound, `service ${service} has no version "${version}" (versions: ${Object.keys(svc.versions ?? {}).join(', ') || 'none'})`);
        record.replicas[service] = { ...record.replicas[service], versions: { ...record.replicas[service]?.versions, [version]: replicas } };
      } else {
        record.replicas[service] = { replicas };
      }
      await persist();
      await reconcilePods();
    },
    traffic(service, weights) {
      const svc = spec.services[service];
      if (svc === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no service "${service}" in mesh ${mesh}`);
      const versions = Object.keys(svc.versions ?? {});
      for (const [v, w] of Object.entries(weights)) {
        if (!versions.includes(v)) throw new RuntimeError(ERROR_CODES.badRequest, `service ${service} has no version "${v}" (versions: ${versions.join(', ') || 'none'})`);
        if (!Number.isInteger(w) || w < 0 || w > 10_000) throw new RuntimeError(ERROR_CODES.badRequest, `weight of ${v} must be an integer from 0 to 10000, got ${w}`);
      }
      if (Object.values(weights).every((w) => w === 0)) throw new RuntimeError(ERROR_CODES.badRequest, 'traffic weights must not all be 0');
      record.traffic[service] = { ...weights };
      void persist();
      emitEvent({ kind: 'event', name: 'meshlet.traffic.changed', message: `${service}: ${Object.entries(weights).map(([v, w]) => `${v}=${w}`).join(' ')}` });
      schedulePush();
    },
    fault(service, fault, enabled) {
      const svc = spec.services[service];
      if (svc === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no service "${service}" in mesh ${mesh}`);
      const keys = svc.faults.map((f, i) => faultKey(f, i));
      if (!keys.includes(fault)) throw new RuntimeError(ERROR_CODES.notFound, `service ${service} has no fault "${fault}" (faults: ${keys.join(', ') || 'none'})`);
      record.faults[service] = { ...record.faults[service], [fault]: enabled };
      void persist();
      emitEvent({ kind: 'event', name: 'meshlet.fault.changed', message: `${service} fault ${fault} ${enabled ? 'on' : 'off'}` });
      schedulePush();
    },
    async podAction(target, action) {
      const selected = self.select(target);
      await Promise.all(selected.map((p) => (action === 'stop' ? p.stop() : action === 'start' ? p.start() : p.restart('manual'))));
      return selected.map((p) => p.name);
    },
    select(target) {
      if (target === undefined) return [...pods.values()];
      const pod = pods.get(target);
      if (pod !== undefined) return [pod];
      const bySvc = [...pods.values()].filter((p) => p.service === target || `${p.service}-${p.version ?? ''}` === target || (p.version !== undefined && `${p.service}/${p.version}` === target));
      if (bySvc.length > 0) return bySvc;
      throw new RuntimeError(ERROR_CODES.notFound, `no pod or service "${target}" in mesh ${mesh} (pods: ${[...pods.keys()].join(', ') || 'none'})`);
    },
    podDir,
    runcRoot: () => runcRoot,
    appEnv: (pod) => {
      const d = desired.get(pod);
      const ip = record.pods[pod]?.ip;
      return d === undefined || ip === undefined ? undefined : appEnv(d, ip);
    },
    template: (pod) => desired.get(pod)?.template,
    caCertPath: () => (caPem === undefined ? undefined : ca.cert),
    certificate: (pod) => {
      const l = leaves.get(pod);
      const iso = (ms: number) => new Date(ms).toISOString();
      return l === undefined ? undefined : { identity: l.identity, serial: l.serial, notBefore: iso(l.notBeforeMs), notAfter: iso(l.notAfterMs), renewAt: iso(l.renewAtMs) };
    },
    config: (pod) => {
      // For `inspect`: the private key stays between the runtime and the pod's sidecar.
      const c = configs().get(pod);
      return c === undefined ? undefined : withoutPrivateKey(c);
    },
    async waitSettled(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const statuses = [...pods.values()].map((p) => p.status());
        const failed = statuses.filter((s) => s.state === 'failed' || (s.state === 'exited' && s.exitCode !== 0)).map((s) => s.name);
        const notReady = statuses.filter((s) => !s.ready && s.state !== 'exited' && s.state !== 'failed' && s.state !== 'stopped').map((s) => s.name);
        if (notReady.length === 0 || Date.now() > deadline) return { ok: notReady.length === 0 && failed.length === 0, notReady, failed };
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async down() {
      const problems = await shutdown();
      emitEvent({ kind: 'event', name: 'meshlet.mesh.down', message: problems.length === 0 ? 'removed' : `removed with ${problems.length} problem(s)` });
      return problems;
    },
  };
  emitEvent({ kind: 'event', name: 'meshlet.mesh.up', message: `${pods.size} pod(s) on ${isolation === 'netns' ? `bridge ${network.bridge} ${network.subnet}` : `loopback ${network.subnet}`}` });
  telemetry?.mesh().event(INFRA_EVENTS.started, { pods: pods.size }, `mesh ${mesh} up`, SEVERITY.info);
  return self;
}
