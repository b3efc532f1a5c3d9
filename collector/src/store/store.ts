// The storage contract of the collector (Jaeger's habit: a Writer and a Reader whose contract says what
// MUST and MAY happen, and one test suite — store/contract.ts — that every implementation passes).
import type { TraceAnalysis } from '../analysis/analyse-trace.ts';
import type { TraceContribution } from '../analysis/contribution.ts';
import type { Counters } from '../analysis/merge.ts';
import type { LogRecordData, SpanRecord } from '../otlp/model.ts';

export interface WriteBatch {
  spans: SpanRecord[];
  /**
   * Each span's OTLP `Span` message as received (aligned with `spans`), when they came as protobuf: the
   * store MAY keep these bytes instead of encoding the records again; they MUST decode to the records.
   */
  encodedSpans?: Uint8Array[];
  logs: LogRecordData[];
}

export interface WriteResult {
  /** Spans stored by this write (not seen before). */
  insertedSpans: SpanRecord[];
  duplicateSpans: number;
  insertedLogs: number;
  duplicateLogs: number;
}

export interface PendingTrace {
  traceId: string;
  /** Spans stored for the trace so far. */
  spanCount: number;
  /** True when the trace was analysed before (this is a re-analysis after late spans). */
  analysedBefore: boolean;
  /** When its newest span was written (ms since the epoch). */
  lastReceivedMs: number;
  /** Spans the previous analysis covered (0 when none): the first this many written, see `traceSpans`. */
  analysedCount: number;
}

export interface RetentionPolicy {
  /** Delete traces that started, and logs written, before `nowMs - maxAgeMs`. */
  maxAgeMs: number;
  /** Delete the oldest data until the store's used size is at most this many bytes. */
  maxBytes: number;
  nowMs: number;
}

/**
 * Receives what the collector ingests and what its analysis concludes.
 *
 * Contract:
 * - `write` MUST resolve only once the batch is durable: after the promise resolves, a crash of the
 *   process (SIGKILL) MUST NOT lose any of it. It MAY group concurrent writes into one commit.
 * - A span whose (traceId, spanId) is already stored MUST be ignored and counted in `duplicateSpans`;
 *   a log record identical in every field to a stored one MUST be counted in `duplicateLogs`.
 * - A failed write MUST reject and leave none of the batch visible.
 * - Every stored span's trace MUST be returned by `pendingTraces` once no span of it has been written
 *   for the quiet time, until `saveAnalyses` records an analysis covering all its spans; a span written
 *   after that analysis MUST make the trace pending again (late spans are re-analysed).
 * - `saveAnalyses` MUST replace the previous analysis of the trace and apply `previous` (the contribution of
 *   that analysis, which the caller recomputes from the first `analysedCount` spans) negatively: the
 *   aggregates MUST equal the sum of the latest contributions of every trace analysed.
 * - `prune` MUST delete traces (with their spans and analysis), logs and aggregate buckets older than the
 *   age limit, then the oldest traces and logs until the size limit holds (aggregates MAY outlive traces
 *   deleted for size: they are small and keep the graph's history); it MAY delete in steps.
 */
export interface TraceWriter {
  write(batch: WriteBatch): Promise<WriteResult>;
  /** Writes queued and not yet durable (spans + logs). */
  readonly queuedItems: number;
  /** Traces whose newest span was written before `quietBeforeMs` and that need (re-)analysis, oldest first. */
  pendingTraces(quietBeforeMs: number, limit: number): PendingTrace[];
  /** Every stored span of a trace (empty when unknown); with `firstWritten`, only that many, in write order. */
  traceSpans(traceId: string, firstWritten?: number): SpanRecord[];
  /** Records analyses; `spanCount` is how many spans each covered, `previous` the contribution it replaces. */
  saveAnalyses(items: AnalysisRecord[]): void;
  prune(policy: RetentionPolicy): { traces: number; spans: number; logs: number };
  close(): Promise<void>;
}

export interface AnalysisRecord {
  analysis: TraceAnalysis;
  contribution: TraceContribution;
  spanCount: number;
  previous: TraceContribution | null;
}

export interface TraceQuery {
  fromMs: number;
  toMs: number;
  service?: string;
  operation?: string;
  status?: 'ok' | 'error';
  originService?: string;
  reason?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  /** Every pair must match a span attribute or a resource attribute of some span of the trace. */
  attributes?: [string, string][];
  /** The attributes must match on a span of `service` (Jaeger's semantics), not on any span. */
  attributesOnService?: boolean;
  run?: string;
  limit: number;
}

/** An analysed trace's summary, as stored. */
export interface TraceRow {
  traceId: string;
  startMs: number;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  rootService: string;
  rootOperation: string;
  services: string[];
  status: 'ok' | 'error';
  origins: { service: string; operation: string; reason: string; spanId: string }[];
  run: string | undefined;
}

export interface LogQuery {
  fromMs: number;
  toMs: number;
  service?: string;
  pod?: string;
  traceId?: string;
  eventName?: string;
  /** Runtime events only (records with an event name), optionally excluding some names. */
  eventsOnly?: boolean;
  excludeEvents?: string[];
  severityMin?: number;
  limit: number;
  /** Oldest first (default newest first). */
  ascending?: boolean;
}

export interface StoredLog extends LogRecordData {
  /** `eventName` or the `event.name` attribute. */
  event: string;
  timeMs: number;
}

export interface AggregateRow {
  bucketMs: number;
  run: string;
  key: string;
  data: Counters;
}

export type AggregateKind = 'node' | 'edge' | 'point' | 'run';

export interface OriginRow {
  traceId: string;
  spanId: string;
  timeMs: number;
  service: string;
  operation: string;
  reason: string;
  message: string;
}

export interface ServiceRow {
  name: string;
  operations: { name: string; kind: number; count: number }[];
  versions: string[];
  lastSeenMs: number;
}

export interface StoreStats {
  spans: number;
  traces: number;
  logs: number;
  pendingTraces: number;
  oldestSpanMs: number | null;
  newestSpanMs: number | null;
  usedBytes: number;
}

/**
 * Answers queries. Contract: what a resolved `write` stored MUST be visible to the next call; traces
 * MUST be returned newest first; a query MUST NOT see a half-written batch.
 */
export interface TraceReader {
  /** All spans of a trace, or an empty array. */
  traceSpans(traceId: string): SpanRecord[];
  /** The stored summary of an analysed trace, or null. */
  traceRow(traceId: string): TraceRow | null;
  searchTraces(q: TraceQuery): { traces: TraceRow[]; truncated: boolean };
  logs(q: LogQuery): StoredLog[];
  services(): ServiceRow[];
  /** Aggregate rows of `kind` with `fromMs <= bucketMs < toMs`, restricted to a run when given. */
  aggregates(kind: AggregateKind, fromMs: number, toMs: number, run?: string): AggregateRow[];
  /** Origins of one failure point, newest first. */
  origins(service: string, operation: string, reason: string, fromMs: number, toMs: number, limit: number, run?: string): OriginRow[];
  stats(): StoreStats;
}
