// The two init containers `meshlet inject` adds to a pod, as pure data:
//
//   initContainers:
//     meshlet-init   runs once as root with NET_ADMIN: iptables-restore of the pod rules that
//                    wire's podIptablesRules() makes (the same function the runtime applies in its pods)
//     meshlet-proxy  the sidecar as a native sidecar (restartPolicy: Always): started before the app
//                    containers and kept running beside them; its startup probe on /ready holds the app
//                    back until the sidecar can route, so the app's first calls already go through it
//     <the pod's own init containers, which may already call other services through the sidecar>
//   containers: the app, unchanged
//
// The sidecar runs as uid 1337, which the iptables rules exempt from redirection (no loops); it is
// configured by flags (listeners) and MESHLET_PROXY_* variables (service, app, collector, endpoints).
import type { Container } from 'kubernetes-types/core/v1.js';
import { DEFAULT_SIDECAR_UID, envName, podIptablesRules, SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT } from '@meshlet/wire';

export const INIT_CONTAINER = 'meshlet-init';
export const PROXY_CONTAINER = 'meshlet-proxy';
/** Name of the sidecar's admin port: Prometheus' pod discovery keeps targets by it. */
export const ADMIN_PORT_NAME = 'meshlet-admin';
/** The environment variable that carries the iptables-restore input into the init container. */
export const IPTABLES_ENV = 'MESHLET_POD_IPTABLES';

/** What one pod's sidecar needs; derived from the workload, its annotations and the inject options. */
export interface SidecarSpec {
  service: string;
  /** The app's port inside the pod (inbound traffic is captured there), or null for outbound only. */
  appPort: number | null;
  /** OTLP/HTTP base URL of the collector, or null for no export. */
  collector: string | null;
  /** `service=host:port[,host:port]` entries the sidecar routes to (MESHLET_PROXY_ENDPOINT). */
  endpoints: string[];
  /** Destinations (the cluster's Service CIDR) whose TCP traffic from the app goes to the sidecar. */
  outboundCidrs: string[];
  /** Image with the meshlet CLI (the sidecar's ENTRYPOINT) and iptables (deploy/docker/sidecar.Dockerfile). */
  image: string;
}

/** The iptables-restore input for a pod: the app port captured inbound, the Service CIDR outbound. */
export function podRules(s: SidecarSpec): string {
  return podIptablesRules({
    sidecarUid: DEFAULT_SIDECAR_UID,
    inboundPort: SIDECAR_INBOUND_PORT,
    outboundPort: SIDECAR_OUTBOUND_PORT,
    inboundPorts: s.appPort === null ? [] : [s.appPort],
    outboundCidrs: s.outboundCidrs,
  }).restore;
}

/** The sidecar's listener flags (what the image's CMD says too, written out so the pod spec shows it). */
export function proxyArgs(): string[] {
  return ['--inbound', `0.0.0.0:${SIDECAR_INBOUND_PORT}`, '--outbound', `127.0.0.1:${SIDECAR_OUTBOUND_PORT}`, '--admin', `0.0.0.0:${SIDECAR_ADMIN_PORT}`];
}

export function initContainer(s: SidecarSpec): Container {
  return {
    name: INIT_CONTAINER,
    image: s.image,
    // iptables-restore replaces the nat table it is given, so a re-run in the same network namespace
    // (a restarted pod sandbox keeps it) yields the same rules, never duplicates.
    command: ['/bin/sh', '-c', `printf '%s' "$${IPTABLES_ENV}" | iptables-restore`],
    env: [{ name: IPTABLES_ENV, value: podRules(s) }],
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
  };
}

export function proxyContainer(s: SidecarSpec): Container {
  const env = (key: string, value: string) => ({ name: envName('proxy', key), value });
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { path, port: ADMIN_PORT_NAME },
    periodSeconds: path === '/ready' ? 2 : 10,
    timeoutSeconds: 2,
    failureThreshold,
  });
  return {
    name: PROXY_CONTAINER,
    image: s.image,
    args: proxyArgs(),
    // Native sidecar: an init container that keeps running; Kubernetes stops it after the app containers.
    restartPolicy: 'Always',
    env: [
      env('service', s.service),
      env('app', s.appPort === null ? 'none' : `127.0.0.1:${s.appPort}`),
      env('collector', s.collector ?? 'none'),
      ...(s.endpoints.length === 0 ? [] : [env('endpoint', s.endpoints.join(';'))]),
    ],
    ports: [
      { name: ADMIN_PORT_NAME, containerPort: SIDECAR_ADMIN_PORT, protocol: 'TCP' },
      { name: 'meshlet-inbound', containerPort: SIDECAR_INBOUND_PORT, protocol: 'TCP' },
    ],
    // Up to 60 s to start (Node + TypeScript stripping on a slow node), then /ready gates the app.
    startupProbe: probe('/ready', 30),
    readinessProbe: probe('/ready', 3),
    livenessProbe: probe('/live', 3),
    securityContext: {
      runAsUser: DEFAULT_SIDECAR_UID,
      runAsGroup: DEFAULT_SIDECAR_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    // Measured: ~120-150 MiB resident when idle (bench/README.md), more under load.
    resources: { requests: { cpu: '100m', memory: '192Mi' }, limits: { memory: '512Mi' } },
  };
}
