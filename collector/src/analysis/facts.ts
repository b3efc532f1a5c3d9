// What the analysis needs to know about one span, read once from its attributes (ATTR in wire/attributes.ts).
import { ATTR, type FailureOrigin, type FailureReason, isFailureReason, RESOURCE } from '@meshlet/wire';
import { boolAttr, numberAttr, SPAN_KIND, spanEndNs, STATUS_CODE, type SpanRecord, stringAttr } from '../otlp/model.ts';

export interface SpanFacts {
  traceId: string;
  spanId: string;
  /** `''` for a root. */
  parentSpanId: string;
  service: string;
  pod: string | undefined;
  version: string | undefined;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  /** Start in ms since the epoch (sub-ms precision kept to the µs). */
  startMs: number;
  durationMs: number;
  failed: boolean;
  reason: FailureReason | undefined;
  errorOrigin: FailureOrigin | undefined;
  /** Status message, or empty. */
  message: string;
  peerService: string | undefined;
  peerVersion: string | undefined;
  /** 1-based retry attempt on an attempt span. */
  attempt: number | undefined;
  httpStatus: number | undefined;
  /** The app made this call without propagating the inbound request's trace context. */
  dropsContext: boolean;
  run: string | undefined;
  faultInjected: boolean;
}

/**
 * One string per distinct value (span names, services, peers, versions, reasons): the analyzer keeps the
 * facts of seconds of spans, and each decoded span brings its own copy of these few values.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 20_000;
function intern(value: string | undefined): string | undefined {
  if (value === undefined || value.length > 200) return value;
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(value, value);
  return value;
}

/** Service name when a resource has none (the OpenTelemetry SDK default). */
export const UNKNOWN_SERVICE = 'unknown_service';

/** The span attributes `factsOf` reads (a span's other attributes may be left out of what it is given). */
export const FACT_ATTRIBUTES: ReadonlySet<string> = new Set([
  ATTR.httpStatus, ATTR.errorReason, ATTR.errorOrigin, ATTR.peerService, ATTR.peerVersion, ATTR.retryAttempt, ATTR.contextPropagated, ATTR.run,
  ATTR.faultInjected,
]);

/** Reads the facts of a span (of its attributes, only `FACT_ATTRIBUTES`). */
export function factsOf(span: SpanRecord): SpanFacts {
  const a = span.attributes;
  const res = span.resource.attributes;
  const httpStatus = numberAttr(a, ATTR.httpStatus);
  const reasonAttr = stringAttr(a, ATTR.errorReason);
  const reasonKnown = isFailureReason(reasonAttr) ? reasonAttr : undefined;
  // Failed: an error status, a meshlet failure reason, or a 5xx answered by a server (semantic conventions).
  const failed =
    span.statusCode === STATUS_CODE.error ||
    reasonKnown !== undefined ||
    (span.kind === SPAN_KIND.server && httpStatus !== undefined && httpStatus >= 500);
  const reason: FailureReason | undefined = failed ? ((intern(reasonKnown) as FailureReason | undefined) ?? 'app_error') : undefined;
  const originAttr = stringAttr(a, ATTR.errorOrigin);
  const errorOrigin: FailureOrigin | undefined =
    reason === undefined ? undefined : originAttr === 'proxy' || originAttr === 'app' ? originAttr : reason === 'app_error' ? 'app' : 'proxy';
  const startNs = span.startTimeUnixNano;
  const endNs = spanEndNs(span);
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    service: intern(stringAttr(res, RESOURCE.serviceName)) ?? UNKNOWN_SERVICE,
    pod: intern(stringAttr(res, RESOURCE.pod)),
    version: intern(stringAttr(res, RESOURCE.serviceVersion)),
    name: intern(span.name) as string,
    kind: span.kind,
    startNs,
    endNs,
    startMs: Number(startNs / 1000n) / 1000,
    durationMs: Number(endNs - startNs) / 1e6,
    failed,
    reason,
    errorOrigin,
    message: intern(span.statusMessage) as string,
    peerService: intern(stringAttr(a, ATTR.peerService)),
    peerVersion: intern(stringAttr(a, ATTR.peerVersion)),
    attempt: numberAttr(a, ATTR.retryAttempt),
    httpStatus,
    dropsContext: boolAttr(a, ATTR.contextPropagated) === false,
    run: intern(stringAttr(a, ATTR.run)),
    faultInjected: boolAttr(a, ATTR.faultInjected) === true,
  };
}

/**
 * The facts of a span as the analyzer keeps them between its arrival and its trace's analysis (seconds of
 * spans: ~150 bytes each instead of ~380 for a `SpanFacts`). What varies per span is kept here; the rest
 * (service, name, status, attributes read) is one shared object per distinct combination. `expandFacts`
 * gives back the `SpanFacts` that `factsOf` made.
 */
export interface CompactFacts {
  spanId: string;
  parentSpanId: string;
  /** The start in whole µs since the epoch, and the ns beyond it. */
  startUs: number;
  startNsRest: number;
  /** `endNs - startNs` (a safe integer: see `compactFacts`). */
  durationNs: number;
  shared: SharedFacts;
}

type SharedFacts = Omit<SpanFacts, 'traceId' | 'spanId' | 'parentSpanId' | 'startNs' | 'endNs' | 'startMs' | 'durationMs'>;

/**
 * The shared parts made so far, by a cheap hash of their fields (a string key of the 16 fields took
 * ~1 µs a span, more than reading the facts); a bucket's entries are compared field by field.
 */
const sharedFacts = new Map<number, SharedFacts[]>();
let sharedCount = 0;
const MAX_SHARED = 20_000;
const MAX_BUCKET = 32;

function sharedHash(f: SpanFacts): number {
  let h = f.name.length;
  h = (h * 31 + f.service.length) | 0;
  h = (h * 31 + f.kind) | 0;
  h = (h * 31 + (f.httpStatus ?? 0)) | 0;
  h = (h * 31 + (f.attempt ?? 0)) | 0;
  h = (h * 31 + (f.reason?.length ?? 0)) | 0;
  h = (h * 31 + (f.peerService?.length ?? 0)) | 0;
  h = (h * 31 + (f.pod?.length ?? 0)) | 0;
  h = (h * 31 + (f.version?.length ?? 0)) | 0;
  h = (h * 31 + f.message.length) | 0;
  h = (h * 31 + (f.run?.length ?? 0)) | 0;
  return (h * 8 + (f.failed ? 4 : 0) + (f.dropsContext ? 2 : 0) + (f.faultInjected ? 1 : 0)) | 0;
}

function sameShared(a: SharedFacts, f: SpanFacts): boolean {
  return (
    a.name === f.name && a.service === f.service && a.kind === f.kind && Object.is(a.httpStatus, f.httpStatus) && Object.is(a.attempt, f.attempt) &&
    a.failed === f.failed && a.reason === f.reason && a.errorOrigin === f.errorOrigin && a.message === f.message && a.peerService === f.peerService &&
    a.peerVersion === f.peerVersion && a.pod === f.pod && a.version === f.version && a.dropsContext === f.dropsContext && a.run === f.run &&
    a.faultInjected === f.faultInjected
  );
}

/** The compact form of a span's facts; undefined when its duration in ns is not a safe integer (> 104 days). */
export function compactFacts(f: SpanFacts): CompactFacts | undefined {
  const durationNs = Number(f.endNs - f.startNs);
  if (!Number.isSafeInteger(durationNs)) return undefined;
  const hash = sharedHash(f);
  let bucket = sharedFacts.get(hash);
  let shared = bucket?.find((a) => sameShared(a, f));
  if (shared === undefined) {
    shared = {
      service: f.service, pod: f.pod, version: f.version, name: f.name, kind: f.kind, failed: f.failed, reason: f.reason, errorOrigin: f.errorOrigin,
      message: f.message, peerService: f.peerService, peerVersion: f.peerVersion, attempt: f.attempt, httpStatus: f.httpStatus,
      dropsContext: f.dropsContext, run: f.run, faultInjected: f.faultInjected,
    };
    if (sharedCount >= MAX_SHARED) {
      sharedFacts.clear();
      sharedCount = 0;
      bucket = undefined;
    }
    if (bucket === undefined || bucket.length >= MAX_BUCKET) {
      sharedCount -= bucket?.length ?? 0;
      sharedFacts.set(hash, (bucket = []));
    }
    bucket.push(shared);
    sharedCount++;
  }
  return { spanId: f.spanId, parentSpanId: f.parentSpanId, startUs: Number(f.startNs / 1000n), startNsRest: Number(f.startNs % 1000n), durationNs, shared };
}

/** The `SpanFacts` of a span of trace `traceId` kept by `compactFacts`. */
export function expandFacts(c: CompactFacts, traceId: string): SpanFacts {
  const s = c.shared;
  const startNs = BigInt(c.startUs) * 1000n + BigInt(c.startNsRest);
  return {
    traceId,
    spanId: c.spanId,
    parentSpanId: c.parentSpanId,
    service: s.service,
    pod: s.pod,
    version: s.version,
    name: s.name,
    kind: s.kind,
    startNs,
    endNs: startNs + BigInt(c.durationNs),
    startMs: c.startUs / 1000,
    durationMs: c.durationNs / 1e6,
    failed: s.failed,
    reason: s.reason,
    errorOrigin: s.errorOrigin,
    message: s.message,
    peerService: s.peerService,
    peerVersion: s.peerVersion,
    attempt: s.attempt,
    httpStatus: s.httpStatus,
    dropsContext: s.dropsContext,
    run: s.run,
    faultInjected: s.faultInjected,
  };
}
