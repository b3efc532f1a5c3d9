// What should run, derived from the spec: one pod per replica (per version for versioned services),
// each with the resolved command, working directory and environment. Pure.
import { isAbsolute, resolve } from 'node:path';
import type { MeshSpec, ServiceSpec } from '@meshlet/wire';
import { ERROR_CODES, RuntimeError } from './errors.ts';

/** Replica counts changed at run time by `meshlet scale`; they win over the spec. */
export interface ReplicaOverrides {
  [service: string]: { replicas?: number; versions?: Record<string, number> };
}

/** Everything needed to start one pod's app. */
export interface PodTemplate {
  service: string;
  version: string | undefined;
  command: readonly string[];
  workingDir: string;
  env: Readonly<Record<string, string>>;
  port: number | undefined;
  resources: ServiceSpec['resources'];
  health: ServiceSpec['health'];
  restart: ServiceSpec['restart'];
}

export interface DesiredPod {
  name: string;
  service: string;
  version: string | undefined;
  /** 1-based replica number. */
  index: number;
  template: PodTemplate;
}

/** `orders-1`, or `catalog-green-2` for a versioned service. */
export function podName(service: string, version: string | undefined, index: number): string {
  return version === undefined ? `${service}-${index}` : `${service}-${version}-${index}`;
}

/** The template of one service (and version). */
export function podTemplate(spec: MeshSpec, specDir: string, service: string, version: string | undefined): PodTemplate {
  const svc = spec.services[service];
  if (svc === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no service "${service}" in mesh ${spec.name}`);
  const v = version === undefined ? undefined : svc.versions?.[version];
  if (version !== undefined && v === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no version "${version}" of service "${service}"`);
  const image = v?.image ?? svc.image;
  const command = v?.command ?? svc.command;
  if (command === undefined) {
    throw new RuntimeError(ERROR_CODES.unsupported, `services.${service}${version === undefined ? '' : `.versions.${version}`}: image "${image ?? ''}" cannot run: this runtime starts "command:" services on the host base; images are not supported yet`, {
      hint: 'give the service a command, e.g. command: ["node", "server.js"] with working_dir',
    });
  }
  const dir = v?.workingDir ?? svc.workingDir;
  return {
    service,
    version,
    command,
    workingDir: dir === undefined ? specDir : isAbsolute(dir) ? dir : resolve(specDir, dir),
    env: { ...svc.env, ...(v?.env ?? {}) },
    port: svc.port,
    resources: svc.resources,
    health: svc.health,
    restart: svc.restart,
  };
}

/** Replica count of a service version after overrides. */
export function replicasOf(spec: MeshSpec, overrides: ReplicaOverrides, service: string, version: string | undefined): number {
  const svc = spec.services[service];
  if (svc === undefined) return 0;
  const o = overrides[service];
  if (version !== undefined) {
    return o?.versions?.[version] ?? o?.replicas ?? svc.versions?.[version]?.replicas ?? svc.replicas;
  }
  return o?.replicas ?? svc.replicas;
}

/** Every pod the spec (with overrides) asks for, in dependency order of services, then name order. */
export function desiredPods(spec: MeshSpec, specDir: string, overrides: ReplicaOverrides = {}): DesiredPod[] {
  const pods: DesiredPod[] = [];
  for (const service of serviceOrder(spec)) {
    const svc = spec.services[service] as ServiceSpec;
    const versions = svc.versions === undefined ? [undefined] : Object.keys(svc.versions);
    for (const version of versions) {
      const template = podTemplate(spec, specDir, service, version);
      const count = replicasOf(spec, overrides, service, version);
      for (let index = 1; index <= count; index++) pods.push({ name: podName(service, version, index), service, version, index, template });
    }
  }
  // `catalog` version `blue` and a service `catalog-blue` would both name a pod `catalog-blue-1`.
  const seen = new Map<string, DesiredPod>();
  for (const pod of pods) {
    const other = seen.get(pod.name);
    if (other !== undefined) {
      const what = (p: DesiredPod) => (p.version === undefined ? `service ${p.service}` : `version ${p.version} of ${p.service}`);
      throw new RuntimeError(ERROR_CODES.spec, `pod name ${pod.name} is used by both ${what(other)} and ${what(pod)}`, { hint: 'rename the service or the version' });
    }
    seen.set(pod.name, pod);
  }
  return pods;
}

/** Services ordered so that every service comes after what it depends on (the spec has no cycles). */
export function serviceOrder(spec: MeshSpec): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of Object.keys(spec.services[name]?.dependsOn ?? {}).sort()) visit(dep);
    order.push(name);
  };
  for (const name of Object.keys(spec.services).sort()) visit(name);
  return order;
}
