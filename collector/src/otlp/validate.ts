// Checks of single spans that make the collector reject that span alone (OTLP partial success)
// rather than the whole request.
import type { DecodedBatch, LogRecordData, SpanRecord } from './model.ts';

/** At most this many reasons are listed in a partial-success message. */
export const MAX_REJECT_MESSAGES = 5;

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const HEX_ID = /^[0-9a-f]*$/;

/**
 * Returns why a span cannot be stored, or null when it can. Normalises an all-zero parent id to `''`
 * (a root), as the W3C trace context treats it. `hexIds`: the ids were made from bytes (protobuf), so
 * only their lengths can be wrong.
 */
export function checkSpanIds(span: SpanRecord, hexIds = false): string | null {
  const isHex = (id: string): boolean => hexIds || HEX_ID.test(id);
  if (span.traceId.length !== 32 || !isHex(span.traceId)) return `traceId must be 16 bytes (32 hex digits), got "${span.traceId}"`;
  if (span.traceId === ZERO_TRACE) return 'traceId is all zeroes (invalid)';
  if (span.spanId.length !== 16 || !isHex(span.spanId)) return `spanId must be 8 bytes (16 hex digits), got "${span.spanId}"`;
  if (span.spanId === ZERO_SPAN) return 'spanId is all zeroes (invalid)';
  if (span.parentSpanId === ZERO_SPAN) span.parentSpanId = '';
  if (span.parentSpanId !== '' && (span.parentSpanId.length !== 16 || !isHex(span.parentSpanId))) {
    return `parentSpanId must be empty or 8 bytes (16 hex digits), got "${span.parentSpanId}"`;
  }
  return null;
}

/** Returns why a log record cannot be stored (ids present but malformed), or null. All-zero ids mean "none". */
export function checkLogIds(log: LogRecordData): string | null {
  if (log.traceId === ZERO_TRACE) log.traceId = '';
  if (log.spanId === ZERO_SPAN) log.spanId = '';
  if (log.traceId !== '' && (log.traceId.length !== 32 || !HEX_ID.test(log.traceId))) return `traceId must be empty or 16 bytes (32 hex digits), got "${log.traceId}"`;
  if (log.spanId !== '' && (log.spanId.length !== 16 || !HEX_ID.test(log.spanId))) return `spanId must be empty or 8 bytes (16 hex digits), got "${log.spanId}"`;
  return null;
}

/** Keeps an item, or counts it rejected (with the first few reasons) when `problem` is set. */
export function recordItem<T>(out: DecodedBatch<T>, item: T, problem: string | null, where: string): void {
  if (problem === null) {
    out.items.push(item);
    return;
  }
  out.rejected++;
  if (out.rejectMessages.length < MAX_REJECT_MESSAGES) out.rejectMessages.push(`${where}: ${problem}`);
}
