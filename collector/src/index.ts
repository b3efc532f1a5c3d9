// The collector's public pieces, for tests, benchmarks and embedding (the CLI entry point is main.ts).
export { createCollector, type Collector, type CollectorOptions } from './collector.ts';
export { analyseTrace, type TraceAnalysis, type OriginInfo, type CallInfo } from './analysis/analyse-trace.ts';
export { factsOf, type SpanFacts } from './analysis/facts.ts';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.ts';
export type * from './store/store.ts';
export { decodeTraceRequest, decodeLogsRequest } from './otlp/decode-proto.ts';
export { decodeTraceJson, decodeLogsJson, parseExactJson } from './otlp/decode-json.ts';
export { encodeTraceRequest, encodeLogsRequest, encodeTraceJson, encodeLogsJson } from './otlp/encode.ts';
export type * from './otlp/model.ts';
export { CollectorError, COLLECTOR_ERRORS } from './errors.ts';
