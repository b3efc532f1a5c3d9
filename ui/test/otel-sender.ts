// Sends spans and log records to a collector the way meshlet's parts do: one OpenTelemetry SDK
// TracerProvider/LoggerProvider per pod (resource = the pod), exported over OTLP/HTTP protobuf.
// Span and log times are given explicitly so a fixture can lay out minutes of history in one go.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, TracerProvider, type IdGenerator } from '@opentelemetry/sdk-trace';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { EVENT_NAME_ATTR, RESOURCE } from '@meshlet/wire';

/** A deterministic random source in [0, 1), so a fixture is the same on every run. */
export function seededRandom(seed: number): () => number {
  const rng = xoroshiro128plus(seed);
  return () => uniformFloat64(rng);
}

/** Trace and span ids from the seeded PRNG (the SDK's default generator uses Math.random). */
export function seededIds(random: () => number): IdGenerator {
  const hex = (bytes: number): string => {
    let out = '';
    for (let i = 0; i < bytes; i++) out += Math.floor(random() * 256).toString(16).padStart(2, '0');
    return /^0+$/.test(out) ? hex(bytes) : out;
  };
  return { generateTraceId: () => hex(16), generateSpanId: () => hex(8) };
}

export interface PodIdentity {
  service: string;
  pod: string;
  version?: string;
  ip: string;
  mesh: string;
}

export type Severity = { text: 'INFO'; number: 9 } | { text: 'WARN'; number: 13 } | { text: 'ERROR'; number: 17 };
export const INFO: Severity = { text: 'INFO', number: 9 };
export const WARN: Severity = { text: 'WARN', number: 13 };
export const ERROR: Severity = { text: 'ERROR', number: 17 };

interface Providers {
  tracer: TracerProvider;
  logs: Map<string, LoggerProvider>;
}

/**
 * One sender per fixture: creates providers lazily per pod and component, and flushes them all at the end.
 * `close()` waits until every exporter has had its batches acknowledged by the collector.
 */
export class OtelSender {
  readonly spans: { count: number } = { count: 0 };
  readonly logsSent: { count: number } = { count: 0 };
  private readonly pods = new Map<string, Providers>();
  private readonly otlpUrl: string;
  private readonly ids: IdGenerator;

  constructor(otlpUrl: string, random: () => number) {
    this.otlpUrl = otlpUrl.replace(/\/$/, '');
    this.ids = seededIds(random);
  }

  private resource(pod: PodIdentity, component: string) {
    return resourceFromAttributes({
      [RESOURCE.serviceName]: pod.service,
      ...(pod.version ? { [RESOURCE.serviceVersion]: pod.version } : {}),
      [RESOURCE.serviceInstanceId]: pod.pod,
      [RESOURCE.mesh]: pod.mesh,
      [RESOURCE.pod]: pod.pod,
      [RESOURCE.podIp]: pod.ip,
      [RESOURCE.component]: component,
    });
  }

  private providers(pod: PodIdentity): Providers {
    let p = this.pods.get(pod.pod);
    if (!p) {
      p = {
        tracer: new TracerProvider({
          resource: this.resource(pod, 'sidecar'),
          idGenerator: this.ids,
          spanProcessors: [
            new BatchSpanProcessor({
              exporter: new OTLPTraceExporter({ url: `${this.otlpUrl}/v1/traces` }),
              maxQueueSize: 20_000,
              maxExportBatchSize: 500,
              scheduledDelayMillis: 100,
            }),
          ],
        }),
        logs: new Map(),
      };
      this.pods.set(pod.pod, p);
    }
    return p;
  }

  private logger(pod: PodIdentity, component: string) {
    const p = this.providers(pod);
    let provider = p.logs.get(component);
    if (!provider) {
      provider = new LoggerProvider({
        resource: this.resource(pod, component),
        processors: [
          new BatchLogRecordProcessor({
            exporter: new OTLPLogExporter({ url: `${this.otlpUrl}/v1/logs` }),
            maxQueueSize: 20_000,
            maxExportBatchSize: 500,
            scheduledDelayMillis: 100,
          }),
        ],
      });
      p.logs.set(component, provider);
    }
    return provider.getLogger(`meshlet-${component}`);
  }

  /** Starts a span of `pod`'s sidecar at `startMs`, child of `parent` (or a new trace). End it with `end`. */
  start(pod: PodIdentity, name: string, kind: 'server' | 'client', startMs: number, parent: SpanContext | null, attributes: Attributes): Span {
    const tracer = this.providers(pod).tracer.getTracer('meshlet-sidecar');
    const ctx: Context = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    this.spans.count++;
    return tracer.startSpan(name, { kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, startTime: startMs, attributes }, ctx);
  }

  /** Ends a span at `endMs`, failed with `error` (the status message) when given. */
  end(span: Span, endMs: number, error?: string): void {
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(endMs);
  }

  /** A log record from `component` of `pod` at `timeMs`, tied to `span` when given. */
  log(pod: PodIdentity, component: 'sidecar' | 'app' | 'runtime' | 'loadtest', timeMs: number, severity: Severity, body: string, attributes: Attributes = {}, span?: SpanContext): void {
    this.logsSent.count++;
    this.logger(pod, component).emit({
      timestamp: timeMs,
      observedTimestamp: timeMs,
      severityNumber: severity.number,
      severityText: severity.text,
      body,
      attributes,
      ...(span ? { context: trace.setSpanContext(ROOT_CONTEXT, span) } : {}),
    });
  }

  /** A runtime infrastructure event (`event.name` = `name`). */
  event(pod: PodIdentity, timeMs: number, name: string, severity: Severity, body: string, attributes: Attributes = {}): void {
    this.log(pod, 'runtime', timeMs, severity, body, { [EVENT_NAME_ATTR]: name, ...attributes });
  }

  /** Flushes every provider: resolves once the collector acknowledged all batches. */
  async flush(): Promise<void> {
    const all: Promise<void>[] = [];
    for (const p of this.pods.values()) {
      all.push(p.tracer.forceFlush());
      for (const l of p.logs.values()) all.push(l.forceFlush());
    }
    await Promise.all(all);
  }

  async close(): Promise<void> {
    await this.flush();
    const all: Promise<void>[] = [];
    for (const p of this.pods.values()) {
      all.push(p.tracer.shutdown());
      for (const l of p.logs.values()) all.push(l.shutdown());
    }
    await Promise.all(all);
  }
}
