// A bounded batch span processor: ended spans wait in a fixed-size queue and go to the exporter in
// batches from a timer. When the queue is full or an export fails, spans are dropped and counted,
// never held without bound and never in the way of a request (STYLE.md, OpenTelemetry JS). The SDK's
// BatchSpanProcessor does the same but resets its drop counter when it logs, so it cannot feed a metric.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

export interface SpanQueueOptions {
  maxQueueSize: number;
  maxBatchSize: number;
  /** How often a partial batch is sent. */
  flushIntervalMs: number;
  /** Called with the number of spans dropped (queue full, export failed, shut down). */
  onDrop: (count: number) => void;
}

export class SpanQueue implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private exporting = 0;
  private exporter: SpanExporter;
  private readonly options: SpanQueueOptions;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(exporter: SpanExporter, options: SpanQueueOptions) {
    this.exporter = exporter;
    this.options = options;
    this.timer = setInterval(() => this.flushSome(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Sends later spans to another exporter (collector URL changed); the old one is shut down. */
  replaceExporter(exporter: SpanExporter): void {
    const old = this.exporter;
    this.exporter = exporter;
    void old.shutdown().catch(() => {});
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || this.queue.length >= this.options.maxQueueSize) {
      this.options.onDrop(1);
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.options.maxBatchSize && this.exporting === 0) this.flushSome();
  }

  private flushSome(): void {
    // One export in flight at a time; the queue bounds what waits behind it.
    if (this.exporting > 0 || this.queue.length === 0) return;
    const batch = this.queue.length <= this.options.maxBatchSize ? this.queue : this.queue.slice(0, this.options.maxBatchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    this.exporting++;
    let settled = false;
    const done = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.exporting--;
      if (result.code !== ExportResultCode.SUCCESS) this.options.onDrop(batch.length);
      if (this.queue.length >= this.options.maxBatchSize) setImmediate(() => this.flushSome());
      else if (this.exporting === 0 && this.queue.length === 0) this.wakeIdle();
    };
    try {
      this.exporter.export(batch, done);
    } catch {
      done({ code: ExportResultCode.FAILED });
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Exports everything queued now; resolves when done (or after `timeoutMs`, dropping the rest). */
  async forceFlush(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.exporting > 0) && Date.now() < deadline) {
      this.flushSome();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.queue.length > 0) this.options.onDrop(this.queue.length);
    this.queue = [];
    await this.exporter.shutdown().catch(() => {});
  }
}
