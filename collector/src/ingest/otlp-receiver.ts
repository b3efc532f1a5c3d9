// The OTLP/HTTP receiver (https://opentelemetry.io/docs/specs/otlp/#otlphttp): `POST /v1/traces` and
// `POST /v1/logs`, protobuf or JSON by Content-Type, gzip bodies, the response in the request's encoding.
//
//   request ─► limits (queue, in-flight bytes) ─► read + inflate (≤ maxBodyBytes) ─► decode ─► store.write
//           ◄─ 200 (+ partial success) only once the write is durable; 400/413/415 + google.rpc.Status;
//              503 + Retry-After when full
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CollectorError } from '../errors.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { decodeLogsRequest, decodeTraceRequest } from '../otlp/decode-proto.ts';
import { decodeLogsJson, decodeTraceJson } from '../otlp/decode-json.ts';
import { encodeExportResponse, encodeStatus, type OtlpEncoding, RPC_CODE } from '../otlp/encode.ts';
import type { DecodedBatch, LogRecordData, SpanRecord } from '../otlp/model.ts';
import type { TraceWriter, WriteResult } from '../store/store.ts';
import { type BodyBudget, readBody } from './body.ts';

export type Signal = 'traces' | 'logs';

export interface ReceiverOptions {
  store: TraceWriter;
  metrics: CollectorMetrics;
  log: Logger;
  /** 20 MiB by default (OTLP's recommendation for a collector), after decompression. */
  maxBodyBytes: number;
  /** Spans + log records queued for writing beyond which requests get 503. */
  maxQueuedItems: number;
  /** Bytes of request bodies being read at once beyond which requests get 503. */
  maxInFlightBytes: number;
  /** Seconds a client is told to wait after a 503. */
  retryAfterSeconds: number;
  /**
   * Span attributes `onStored` reads from `result.insertedSpans`: a span decoded from protobuf keeps only
   * these (the store keeps the span's bytes as received). Default: all.
   */
  spanAttributeKeys?: ReadonlySet<string>;
  /** Called after a batch is durably stored, with the raw (decompressed) body for forwarding. */
  onStored(signal: Signal, result: WriteResult, body: Buffer, contentType: string, logs: LogRecordData[]): void;
}

export interface Receiver {
  handle(req: IncomingMessage, res: ServerResponse): void;
}

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/logs': 'logs' };

function encodingOf(contentType: string | undefined): OtlpEncoding | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

export function createReceiver(options: ReceiverOptions): Receiver {
  const { store, metrics, log } = options;
  const budget: BodyBudget = { inFlightBytes: 0, maxInFlightBytes: options.maxInFlightBytes };

  function send(res: ServerResponse, status: number, encoding: OtlpEncoding, body: Buffer, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': CONTENT_TYPES[encoding], 'content-length': body.length, ...headers });
    res.end(body);
  }

  function fail(res: ServerResponse, signal: Signal | null, encoding: OtlpEncoding, err: unknown, items = 0): void {
    const e = err instanceof CollectorError ? err : new CollectorError('ERR_COLLECTOR_STORE', (err as Error).message);
    const status = e.status;
    const rpc = status === 503 ? RPC_CODE.unavailable : status === 500 ? RPC_CODE.internal : status === 413 ? RPC_CODE.resourceExhausted : RPC_CODE.invalidArgument;
    const headers: Record<string, string> = status === 503 || e.code === 'ERR_COLLECTOR_STORE' ? { 'retry-after': String(options.retryAfterSeconds) } : {};
    // A store failure is transient for the client (disk full, locked): 503 so that exporters retry.
    const finalStatus = e.code === 'ERR_COLLECTOR_STORE' ? 503 : status;
    if (signal !== null) {
      metrics.requests.inc({ signal, code: String(finalStatus) });
      const reason = { 400: 'malformed', 413: 'too_large', 415: 'unsupported', 503: 'busy' }[finalStatus] ?? 'store_error';
      if (items > 0) metrics.refused.inc({ signal, reason: e.code === 'ERR_COLLECTOR_STORE' ? 'store_error' : reason }, items);
    }
    if (finalStatus >= 500) log.warn({ err: e.message, code: e.code, signal }, 'export request refused');
    else log.debug({ err: e.message, code: e.code, signal }, 'export request rejected');
    send(res, finalStatus, encoding, encodeStatus(rpc, e.message, encoding), headers);
  }

  async function receive(req: IncomingMessage, res: ServerResponse, signal: Signal, encoding: OtlpEncoding, contentType: string): Promise<void> {
    if (store.queuedItems >= options.maxQueuedItems) {
      req.resume();
      fail(res, signal, encoding, new CollectorError('ERR_COLLECTOR_BUSY', 'the write queue is full; retry later'));
      return;
    }
    const body = await readBody(req, options.maxBodyBytes, budget);
    const started = performance.now();
    let decoded: DecodedBatch<SpanRecord> | DecodedBatch<LogRecordData>;
    if (signal === 'traces') decoded = encoding === 'protobuf' ? decodeTraceRequest(body, { attributeKeys: options.spanAttributeKeys }) : decodeTraceJson(body.toString('utf8'));
    else decoded = encoding === 'protobuf' ? decodeLogsRequest(body) : decodeLogsJson(body.toString('utf8'));
    const count = decoded.items.length + decoded.rejected;
    metrics.received.inc({ signal }, count);
    if (decoded.rejected > 0) metrics.dropped.inc({ signal, reason: 'rejected' }, decoded.rejected);
    if (store.queuedItems + decoded.items.length > options.maxQueuedItems) {
      fail(res, signal, encoding, new CollectorError('ERR_COLLECTOR_BUSY', 'the write queue is full; retry later'), decoded.items.length);
      return;
    }
    let result: WriteResult = { insertedSpans: [], duplicateSpans: 0, insertedLogs: 0, duplicateLogs: 0 };
    if (decoded.items.length > 0) {
      try {
        result = await store.write(signal === 'traces' ? { spans: decoded.items as SpanRecord[], encodedSpans: decoded.encoded, logs: [] } : { spans: [], logs: decoded.items as LogRecordData[] });
      } catch (err) {
        fail(res, signal, encoding, err, decoded.items.length);
        return;
      }
    }
    const inserted = signal === 'traces' ? result.insertedSpans.length : result.insertedLogs;
    const duplicates = signal === 'traces' ? result.duplicateSpans : result.duplicateLogs;
    metrics.stored.inc({ signal }, inserted);
    if (duplicates > 0) metrics.dropped.inc({ signal, reason: 'duplicate' }, duplicates);
    metrics.ackSeconds.observe({ signal }, (performance.now() - started) / 1000);
    metrics.requests.inc({ signal, code: '200' });
    const noun = signal === 'traces' ? 'spans' : 'log records';
    const message = decoded.rejected > 0 ? `rejected ${decoded.rejected} ${noun}: ${decoded.rejectMessages.join('; ')}` : '';
    send(res, 200, encoding, encodeExportResponse(signal, decoded.rejected, message, encoding));
    options.onStored(signal, result, body, contentType, signal === 'logs' ? (decoded.items as LogRecordData[]) : []);
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): void {
      const path = (req.url ?? '/').split('?')[0] as string;
      const signal = PATHS[path];
      const encoding = encodingOf(req.headers['content-type']);
      if (signal === undefined) {
        req.resume();
        send(res, 404, encoding ?? 'json', encodeStatus(RPC_CODE.unimplemented, `no OTLP endpoint at ${path} (use /v1/traces or /v1/logs)`, encoding ?? 'json'));
        return;
      }
      if (req.method !== 'POST') {
        req.resume();
        send(res, 405, encoding ?? 'json', encodeStatus(RPC_CODE.unimplemented, `${req.method} is not allowed on ${path}; use POST`, encoding ?? 'json'), { allow: 'POST' });
        return;
      }
      if (encoding === null) {
        req.resume();
        fail(res, signal, 'json', new CollectorError('ERR_COLLECTOR_UNSUPPORTED_MEDIA_TYPE', `Content-Type "${req.headers['content-type'] ?? ''}" is not supported: use application/x-protobuf or application/json`));
        return;
      }
      receive(req, res, signal, encoding, CONTENT_TYPES[encoding]).catch((err: unknown) => {
        if (!res.headersSent) fail(res, signal, encoding, err);
        else res.destroy();
      });
    },
  };
}
