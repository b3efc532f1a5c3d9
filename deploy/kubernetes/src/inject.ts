// `meshlet inject` as a pure function: manifest text in, manifest text out with the meshlet sidecar
// added to every workload's pod template. Multi-document YAML, JSON and `List` objects are read; other
// objects (Services, ConfigMaps, …) pass through untouched, as do workloads annotated
// `meshlet.dev/inject: "false"`. Only `initContainers` and one pod annotation are rewritten, so the
// rest of each document keeps its comments and layout. Injecting twice gives the same text.
import { isSeq, LineCounter, parseAllDocuments, type Document, type YAMLSeq } from 'yaml';
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import { hostPort, NAME_PATTERN } from '@meshlet/wire';
import { INJECT_ERRORS, InjectError, type InjectProblem } from './errors.ts';
import { initContainer, INIT_CONTAINER, PROXY_CONTAINER, proxyContainer, type SidecarSpec } from './sidecar.ts';

/** Annotations read on the pod template (or, failing that, on the workload). */
export const ANNOTATIONS = Object.freeze({
  /** `"false"` leaves the workload alone. */
  inject: 'meshlet.dev/inject',
  /** The service name (default: label app.kubernetes.io/name, label app, then the workload's name). Set by inject. */
  service: 'meshlet.dev/service',
  /** The app's port (default: the first TCP containerPort of the first container; none: outbound only). */
  appPort: 'meshlet.dev/app-port',
  /** Services the app calls: `payments=payments.shop.svc.cluster.local:8080;ledger=ledger:8080`. */
  endpoints: 'meshlet.dev/endpoints',
  /** OTLP/HTTP URL of the collector for this workload, or `none`. */
  collector: 'meshlet.dev/collector',
  /** Comma-separated CIDRs whose traffic goes through the sidecar (default: the --service-cidr option). */
  outboundCidrs: 'meshlet.dev/outbound-cidrs',
});

export interface InjectOptions {
  image: string;
  collector: string | null;
  outboundCidrs: string[];
}

export interface InjectedWorkload {
  kind: string;
  name: string;
  service: string;
  appPort: number | null;
}

export interface InjectResult {
  output: string;
  injected: InjectedWorkload[];
  skipped: { kind: string; name: string; reason: string }[];
}

/** Where the pod template sits in each workload kind. */
const POD_TEMPLATE: Record<string, { spec: string[]; meta: string[] }> = {
  Pod: { spec: ['spec'], meta: ['metadata'] },
  Deployment: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  StatefulSet: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  DaemonSet: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  ReplicaSet: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  ReplicationController: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  Job: { spec: ['spec', 'template', 'spec'], meta: ['spec', 'template', 'metadata'] },
  CronJob: { spec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'], meta: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'] },
  PodTemplate: { spec: ['template', 'spec'], meta: ['template', 'metadata'] },
};

type Path = (string | number)[];
type Json = Record<string, unknown>;

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$|^[0-9a-fA-F:]+\/\d{1,3}$/;

/**
 * Adds the sidecar to every workload in `text`. Throws an `InjectError` listing every problem (with
 * `file:line`) and writes nothing when any document is bad, so a pipe into `kubectl apply` never applies
 * half a change.
 *
 * @example
 * const { output } = injectManifests(readFileSync('web.yaml', 'utf8'), 'web.yaml', {
 *   image: 'meshlet/sidecar:0.1.0', collector: 'http://meshlet-collector.meshlet:4318', outboundCidrs: ['10.96.0.0/12'],
 * });
 */
export function injectManifests(text: string, file: string, options: InjectOptions): InjectResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: InjectProblem[] = [];
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  if (!Array.isArray(docs)) {
    // The yaml library returns an EmptyStream for empty input.
    return { output: '', injected: [], skipped: [] };
  }
  for (const doc of docs) {
    for (const error of doc.errors) problems.push({ code: INJECT_ERRORS.syntax, file, line: lineOf(error.pos[0]), message: error.message.split('\n')[0] ?? error.message });
  }
  if (problems.length > 0) throw new InjectError(problems);

  const json = /^\s*[[{]/.test(text);
  const result: InjectResult = { output: '', injected: [], skipped: [] };
  for (const doc of docs) {
    if (doc.contents === null) continue;
    const problem = (path: Path, code: InjectProblem['code'], message: string) => problems.push({ code, file, line: lineOf(nodeOffset(doc, path)), message });
    const root: unknown = doc.toJS({ maxAliasCount: 100 });
    visit(doc, root, [], options, result, problem);
  }
  if (problems.length > 0) throw new InjectError(problems);
  const kept = docs.filter((d) => d.contents !== null);
  result.output = json
    ? kept.map((d) => `${JSON.stringify(d.toJS(), null, 2)}\n`).join('')
    : // No folding (a long annotation stays on its line), multi-line strings (the iptables rules) as `|` blocks.
      kept.map((d) => d.toString({ lineWidth: 0, blockQuote: 'literal' }).replace(/^---\n/, '')).join('---\n');
  return result;
}

type Report = (path: Path, code: InjectProblem['code'], message: string) => void;

/** One Kubernetes object at `path` of the document (a `List`'s items are objects too). */
function visit(doc: Document, obj: unknown, path: Path, options: InjectOptions, result: InjectResult, report: Report): void {
  let problems = 0;
  const problem: Report = (p, code, message) => {
    problems++;
    report(p, code, message);
  };
  if (!isObject(obj) || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
    problem(path, INJECT_ERRORS.manifest, 'expected a Kubernetes object with apiVersion and kind');
    return;
  }
  const kind = obj.kind;
  const name = isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : '(unnamed)';
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(obj.items))) {
    if (!Array.isArray(obj.items)) return problem([...path, 'items'], INJECT_ERRORS.manifest, `${kind}: expected items: [ … ]`);
    obj.items.forEach((item, i) => visit(doc, item, [...path, 'items', i], options, result, report));
    return;
  }
  const where = POD_TEMPLATE[kind];
  if (where === undefined) return; // not a workload: passes through
  const what = `${kind} ${name}`;
  const spec = getIn(obj, where.spec);
  const meta = getIn(obj, where.meta);
  const podAnnotations = isObject(meta) && isObject(meta.annotations) ? meta.annotations : {};
  const workloadAnnotations = isObject(obj.metadata) && isObject(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const annotation = (key: string): { value: string; path: Path } | undefined => {
    if (typeof podAnnotations[key] === 'string') return { value: podAnnotations[key], path: [...path, ...where.meta, 'annotations', key] };
    if (typeof workloadAnnotations[key] === 'string') return { value: workloadAnnotations[key], path: [...path, 'metadata', 'annotations', key] };
    if (podAnnotations[key] !== undefined || workloadAnnotations[key] !== undefined) {
      const at = podAnnotations[key] !== undefined ? [...path, ...where.meta, 'annotations', key] : [...path, 'metadata', 'annotations', key];
      problem(at, INJECT_ERRORS.annotation, `${what}: annotation ${key} must be a string (quote it)`);
    }
    return undefined;
  };

  const optOut = annotation(ANNOTATIONS.inject);
  if (optOut !== undefined && ['false', 'no', 'off', 'disabled'].includes(optOut.value.toLowerCase())) {
    result.skipped.push({ kind, name, reason: `${ANNOTATIONS.inject}: ${optOut.value}` });
    return;
  }
  if (!isObject(spec) || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    return problem([...path, ...where.spec], INJECT_ERRORS.manifest, `${what}: ${where.spec.join('.')}.containers: expected a list with at least one container`);
  }
  const pod = spec as unknown as PodSpec;
  if (pod.hostNetwork === true) {
    return problem([...path, ...where.spec, 'hostNetwork'], INJECT_ERRORS.unsupported, `${what}: hostNetwork pods share the node's network, where the sidecar's iptables rules must not go; annotate it ${ANNOTATIONS.inject}: "false"`);
  }
  const taken = pod.containers.findIndex((c) => c.name === INIT_CONTAINER || c.name === PROXY_CONTAINER);
  if (taken >= 0) {
    return problem([...path, ...where.spec, 'containers', taken, 'name'], INJECT_ERRORS.unsupported, `${what}: the container name ${pod.containers[taken]?.name} is meshlet's; rename the container`);
  }

  const service = serviceName(obj, meta, name, annotation, (p, m) => problem(p, INJECT_ERRORS.annotation, `${what}: ${m}`), path);
  const appPort = appPortOf(pod, annotation, (p, m) => problem(p, INJECT_ERRORS.annotation, `${what}: ${m}`), [...path, ...where.spec]);
  const endpoints = endpointsOf(annotation, (p, m) => problem(p, INJECT_ERRORS.annotation, `${what}: ${m}`));
  const collectorAnnotation = annotation(ANNOTATIONS.collector);
  let collector = options.collector;
  if (collectorAnnotation !== undefined) {
    const v = collectorAnnotation.value.trim();
    if (v === 'none') collector = null;
    else if (URL.canParse(v) && /^https?:$/.test(new URL(v).protocol)) collector = v;
    else problem(collectorAnnotation.path, INJECT_ERRORS.annotation, `${what}: ${ANNOTATIONS.collector}: expected an http(s) URL or none, got "${v}"`);
  }
  const cidrAnnotation = annotation(ANNOTATIONS.outboundCidrs);
  let outboundCidrs = options.outboundCidrs;
  if (cidrAnnotation !== undefined) {
    outboundCidrs = cidrAnnotation.value.split(',').map((c) => c.trim()).filter((c) => c !== '');
    const bad = outboundCidrs.filter((c) => !validCidr(c));
    if (bad.length > 0) problem(cidrAnnotation.path, INJECT_ERRORS.annotation, `${what}: ${ANNOTATIONS.outboundCidrs}: not a CIDR: ${bad.join(', ')}`);
  }
  if (problems > 0 || service === undefined || appPort === undefined || endpoints === undefined) return;

  const sidecar: SidecarSpec = { service, appPort, collector, endpoints, outboundCidrs, image: options.image };
  // Ours first (the rules, then the sidecar), then the pod's own init containers, which may already make calls.
  // Their init containers keep their nodes (comments, flow style); ours are replaced on every run.
  const initPath = [...path, ...where.spec, 'initContainers'];
  const existing: unknown = doc.getIn(initPath, true);
  const seq: YAMLSeq<unknown> = doc.createNode([initContainer(sidecar), proxyContainer(sidecar)]);
  if (isSeq(existing)) {
    existing.items.forEach((node, i) => {
      const name = (pod.initContainers ?? [])[i]?.name;
      if (name !== INIT_CONTAINER && name !== PROXY_CONTAINER) seq.items.push(node);
    });
  }
  doc.setIn(initPath, seq);
  doc.setIn([...path, ...where.meta, 'annotations', ANNOTATIONS.service], service);
  result.injected.push({ kind, name, service, appPort });
}

function serviceName(
  obj: Json,
  meta: unknown,
  name: string,
  annotation: (k: string) => { value: string; path: Path } | undefined,
  problem: (p: Path, m: string) => void,
  path: Path,
): string | undefined {
  const explicit = annotation(ANNOTATIONS.service);
  const labels = isObject(meta) && isObject(meta.labels) ? meta.labels : isObject(obj.metadata) && isObject(obj.metadata.labels) ? obj.metadata.labels : {};
  const candidate = explicit?.value ?? str(labels['app.kubernetes.io/name']) ?? str(labels.app) ?? name;
  if (NAME_PATTERN.test(candidate)) return candidate;
  if (explicit !== undefined) problem(explicit.path, `${ANNOTATIONS.service}: "${candidate}" is not a service name (lowercase letters, digits and "-", at most 40)`);
  else problem([...path, 'metadata', 'name'], `"${candidate}" cannot be a service name (lowercase letters, digits and "-", at most 40); set the ${ANNOTATIONS.service} annotation`);
  return undefined;
}

function appPortOf(pod: PodSpec, annotation: (k: string) => { value: string; path: Path } | undefined, problem: (p: Path, m: string) => void, specPath: Path): number | null | undefined {
  const explicit = annotation(ANNOTATIONS.appPort);
  if (explicit !== undefined) {
    if (explicit.value === 'none') return null;
    const port = Number(explicit.value);
    if (Number.isInteger(port) && port >= 1 && port <= 65535 && !isSidecarPort(port)) return port;
    // A named port of the app container is fine too.
    const named = pod.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === explicit.value);
    if (named !== undefined) return named.containerPort;
    problem(explicit.path, `${ANNOTATIONS.appPort}: expected a port number, a container port name or none, got "${explicit.value}"`);
    return undefined;
  }
  const first = (pod.containers[0]?.ports ?? []).find((p) => (p.protocol ?? 'TCP') === 'TCP');
  if (first === undefined) return null;
  if (isSidecarPort(first.containerPort)) {
    problem([...specPath, 'containers', 0, 'ports'], `the app's port ${first.containerPort} is one of the sidecar's (15000, 15001, 15006); set ${ANNOTATIONS.appPort}`);
    return undefined;
  }
  return first.containerPort;
}

function isSidecarPort(port: number): boolean {
  return port === 15000 || port === 15001 || port === 15006;
}

function endpointsOf(annotation: (k: string) => { value: string; path: Path } | undefined, problem: (p: Path, m: string) => void): string[] | undefined {
  const a = annotation(ANNOTATIONS.endpoints);
  if (a === undefined) return [];
  const entries = a.value.split(/[;\s]+/).filter((e) => e !== '');
  const bad: string[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const service = entry.slice(0, eq);
    const addresses = entry.slice(eq + 1).split(',').filter((x) => x !== '');
    if (eq <= 0 || !NAME_PATTERN.test(service) || addresses.length === 0 || !addresses.every((x) => hostPort.safeParse(x).success)) bad.push(entry);
  }
  if (bad.length > 0) {
    problem(a.path, `${ANNOTATIONS.endpoints}: expected SERVICE=HOST:PORT[,HOST:PORT] entries separated by ";", got ${bad.map((b) => `"${b}"`).join(', ')}`);
    return undefined;
  }
  return entries;
}

function validCidr(c: string): boolean {
  const m = CIDR.exec(c);
  if (m === null) return false;
  if (m[5] === undefined) return true; // IPv6: shape checked only
  return [m[1], m[2], m[3], m[4]].every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function getIn(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const key of path) cur = isObject(cur) ? cur[key] : undefined;
  return cur;
}

/** Offset of the node at `path`, or of its deepest ancestor present in the document. */
function nodeOffset(doc: Document, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node) {
      const range = (node as { range?: [number, number, number] }).range;
      if (range !== undefined) return range[0];
    }
  }
  return undefined;
}
