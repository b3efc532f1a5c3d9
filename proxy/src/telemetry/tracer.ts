// Spans of the sidecar: SERVER on inbound, CLIENT request + CLIENT attempts on outbound (shape in
// wire/attributes.ts). With a collector the OpenTelemetry SDK records them and a SpanQueue exports them
// as OTLP/HTTP protobuf; without one (or with spans off) ids are still made, so context propagates.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type AttributeValue, type Span, type Tracer as OtelTracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { RandomIdGenerator, TracerProvider, ParentBasedSampler, AlwaysOnSampler, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { SpanQueue } from './span-queue.ts';

/** What the proxy does with a span. The SDK's Span satisfies it; so does the id-only span. */
export interface SpanHandle {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  /** False for an id-only span: attributes would be dropped. */
  readonly recording: boolean;
  setAttribute(key: string, value: AttributeValue): void;
  /** Marks the span failed (status ERROR with a message). */
  setError(message: string): void;
  updateName(name: string): void;
  end(): void;
}

export interface ParentIds {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export interface Tracer {
  /** False when spans are not recorded (no collector): callers skip building attributes. */
  readonly recording: boolean;
  startSpan(name: string, kind: 'server' | 'client', parent: ParentIds | null, attributes: Attributes): SpanHandle;
  forceFlush(): Promise<void>;
  /** Points export at another collector (null: stop recording). */
  setCollector(url: string | null): void;
  close(): Promise<void>;
}

class RecordedSpan implements SpanHandle {
  readonly recording = true;
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  private readonly span: Span;
  constructor(span: Span) {
    this.span = span;
    const ctx = span.spanContext();
    this.traceId = ctx.traceId;
    this.spanId = ctx.spanId;
    this.sampled = (ctx.traceFlags & 1) === 1;
  }
  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value);
  }
  setError(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  updateName(name: string): void {
    this.span.updateName(name);
  }
  end(): void {
    this.span.end();
  }
}

class IdOnlySpan implements SpanHandle {
  readonly recording = false;
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  constructor(traceId: string, spanId: string, sampled: boolean) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.sampled = sampled;
  }
  setAttribute(): void {}
  setError(): void {}
  updateName(): void {}
  end(): void {}
}

/**
 * The OTLP/HTTP protobuf exporter, loaded (a dynamic import, which the bundle keeps lazy) and made when
 * the first batch of spans goes out: its protobuf encoder and HTTP transport (node:https, node:zlib)
 * cost start-up CPU and idle memory in every sidecar with a collector, though an idle one exports
 * nothing (proxy/README.md, "Start-up cost"). The collector URL is validated with the config, at start.
 */
class DeferredExporter implements SpanExporter {
  private readonly url: string;
  private readonly timeoutMillis: number;
  private inner: SpanExporter | null = null;
  private loading: Promise<SpanExporter> | null = null;

  constructor(url: string, timeoutMillis: number) {
    this.url = url;
    this.timeoutMillis = timeoutMillis;
  }

  private load(): Promise<SpanExporter> {
    this.loading ??= import('@opentelemetry/exporter-trace-otlp-proto').then(({ OTLPTraceExporter }) => {
      this.inner = new OTLPTraceExporter({ url: this.url, timeoutMillis: this.timeoutMillis });
      return this.inner;
    });
    return this.loading;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.inner !== null) return this.inner.export(spans, resultCallback);
    this.load().then(
      (exporter) => exporter.export(spans, resultCallback),
      (err: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: err as Error }),
    );
  }

  async shutdown(): Promise<void> {
    if (this.loading !== null) await (await this.loading).shutdown();
  }

  async forceFlush(): Promise<void> {
    await this.inner?.forceFlush?.();
  }
}

export interface TracerOptions {
  /** Resource attributes (service.name, meshlet.pod.name, ...). */
  resource: Attributes;
  /** OTLP/HTTP base URL, or null: ids only, nothing recorded. */
  collectorUrl: string | null;
  maxQueueSize?: number;
  maxBatchSize?: number;
  flushIntervalMs?: number;
  exportTimeoutMs?: number;
  onDrop: (count: number) => void;
}

/**
 * Creates the sidecar's tracer.
 * @example const tracer = createTracer({ resource: { 'service.name': 'orders' }, collectorUrl: 'http://127.0.0.1:4318', onDrop })
 */
export function createTracer(options: TracerOptions): Tracer {
  const ids = new RandomIdGenerator();
  const exportTimeoutMs = options.exportTimeoutMs ?? 10_000; // 10 s
  const makeExporter = (url: string): SpanExporter => new DeferredExporter(`${url.replace(/\/+$/, '')}/v1/traces`, exportTimeoutMs);
  let collectorUrl = options.collectorUrl;
  let queue: SpanQueue | null = null;
  let provider: TracerProvider | null = null;
  let otel: OtelTracer | null = null;

  const ensureProvider = (url: string): void => {
    if (queue !== null) {
      queue.replaceExporter(makeExporter(url));
      return;
    }
    queue = new SpanQueue(makeExporter(url), {
      maxQueueSize: options.maxQueueSize ?? 8192,
      maxBatchSize: options.maxBatchSize ?? 512,
      flushIntervalMs: options.flushIntervalMs ?? 1_000, // 1 s
      onDrop: options.onDrop,
    });
    provider = new TracerProvider({
      resource: resourceFromAttributes(options.resource),
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [queue],
      idGenerator: ids,
    });
    otel = provider.getTracer('meshlet-proxy');
  };
  if (collectorUrl !== null) ensureProvider(collectorUrl);

  const kinds = { server: SpanKind.SERVER, client: SpanKind.CLIENT } as const;

  return {
    get recording() {
      return collectorUrl !== null;
    },
    startSpan(name, kind, parent, attributes) {
      if (collectorUrl === null || otel === null) {
        return new IdOnlySpan(parent?.traceId ?? ids.generateTraceId(), ids.generateSpanId(), parent?.sampled ?? true);
      }
      const ctx =
        parent === null
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, {
              traceId: parent.traceId,
              spanId: parent.spanId,
              traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
              isRemote: true,
            });
      return new RecordedSpan(otel.startSpan(name, { kind: kinds[kind], attributes }, ctx));
    },
    async forceFlush() {
      await queue?.forceFlush();
    },
    setCollector(url) {
      if (url === collectorUrl) return;
      collectorUrl = url;
      if (url !== null) ensureProvider(url);
    },
    async close() {
      collectorUrl = null;
      await provider?.shutdown();
    },
  };
}
