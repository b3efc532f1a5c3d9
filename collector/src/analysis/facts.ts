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

/** Reads the facts of a span. */
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
