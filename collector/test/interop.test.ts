// Interop with the real OpenTelemetry JS SDK exporters (OTLP/HTTP protobuf and JSON, traces and logs):
// what the collector stores equals what the SDK sent, field by field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { collectorConfigSchema } from '@meshlet/wire';
import { createCollector } from '../src/collector.ts';
import { plainAttributes, plainValue, type SpanRecord } from '../src/otlp/model.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { tempDir } from './helpers.ts';

const hrToNs = (t: [number, number]): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

const RESOURCE_ATTRS: Attributes = {
  'service.name': 'interop',
  'service.version': '1.2.3',
  'meshlet.pod.name': 'interop-1',
  'deployment.environment.name': 'test',
  'host.cpu.count': 8,
};

const SPAN_ATTRS: Attributes = {
  'http.request.method': 'GET',
  'http.response.status_code': 503,
  'retry.ratio': 0.25,
  'cache.hit': false,
  'tags': ['a', 'b', ''],
  'ports': [80, 443],
  'weights': [0.5, 1.5],
  'flags': [true, false],
  'unicode': 'café ☕ 日本',
  'big.negative': -9_007_199_254_740_991,
};

for (const encoding of ['protobuf', 'json'] as const) {
  test(`the SDK's OTLP/HTTP ${encoding} exporters: stored spans and logs equal what was sent, field by field`, async (t) => {
    const dir = tempDir(t);
    const config = collectorConfigSchema.parse({ otlp: '127.0.0.1:0', http: '127.0.0.1:0', data: dir, analysisQuiet: 50, sync: 'normal' });
    const collector = await createCollector({ config, uiDir: dir, log: pino({ level: 'silent' }), version: 'test' });
    let closed = false;
    t.after(async () => {
      if (!closed) await collector.close();
    });

    const traceUrl = `http://${collector.otlpAddress}/v1/traces`;
    const logsUrl = `http://${collector.otlpAddress}/v1/logs`;
    const resource = resourceFromAttributes(RESOURCE_ATTRS);
    const sentSpans = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: encoding === 'protobuf' ? new ProtoTraceExporter({ url: traceUrl }) : new JsonTraceExporter({ url: traceUrl }) }),
        new SimpleSpanProcessor({ exporter: sentSpans }),
      ],
    });
    const sentLogs = new InMemoryLogRecordExporter();
    const loggerProvider = new LoggerProvider({
      resource,
      processors: [
        new SimpleLogRecordProcessor({ exporter: encoding === 'protobuf' ? new ProtoLogExporter({ url: logsUrl }) : new JsonLogExporter({ url: logsUrl }) }),
        new SimpleLogRecordProcessor({ exporter: sentLogs }),
      ],
    });
    const tracer = tracerProvider.getTracer('interop-test', '9.9.9');
    const logger = loggerProvider.getLogger('interop-logger', '1.0.0');

    // Times with nanosecond digits a double would lose: [seconds, nanoseconds].
    const t0: [number, number] = [1_700_000_000, 123_456_789];
    const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, startTime: t0, attributes: SPAN_ATTRS });
    root.addEvent('cache.miss', { key: 'sku-42', size: 3 }, [1_700_000_000, 200_000_001]);
    const ctx = trace.setSpan(context.active(), root);
    const child = tracer.startSpan('POST payments/charge', {
      kind: SpanKind.CLIENT,
      startTime: [1_700_000_000, 300_000_007],
      attributes: { 'meshlet.peer.service': 'payments', 'meshlet.retry.attempt': 2 },
      links: [{ context: { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: 1 }, attributes: { 'link.kind': 'batch' } }],
    }, ctx);
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'payments has no healthy endpoint' });
    child.end([1_700_000_000, 900_000_009]);
    root.setStatus({ code: SpanStatusCode.OK });
    root.end([1_700_000_001, 5]);
    context.with(ctx, () => {
      logger.emit({
        timestamp: [1_700_000_000, 400_000_011],
        observedTimestamp: [1_700_000_000, 400_000_099],
        severityNumber: SeverityNumber.ERROR,
        severityText: 'ERROR',
        body: { message: 'charge failed', code: 503, retryable: true, parts: ['a', 1] },
        attributes: { 'event.name': 'meshlet.pod.restarted', 'meshlet.pod.restarts': 3, ratio: 0.5 },
        eventName: 'meshlet.pod.restarted',
      });
      logger.emit({ severityNumber: SeverityNumber.INFO, body: 'plain text body', attributes: {} });
    });
    await tracerProvider.forceFlush();
    await loggerProvider.forceFlush();
    // Read what was sent before shutdown (in-memory exporters forget on shutdown).
    const sent = [...sentSpans.getFinishedSpans()];
    const sentRecords = [...sentLogs.getFinishedLogRecords()];
    await tracerProvider.shutdown();
    await loggerProvider.shutdown();
    await collector.close();
    closed = true;

    const store = openSqliteStore({ dir });
    t.after(() => store.close());
    assert.equal(sent.length, 2);
    const stored = store.traceSpans(root.spanContext().traceId);
    assert.equal(stored.length, 2);
    for (const s of sent) {
      const got = stored.find((x) => x.spanId === s.spanContext().spanId) as SpanRecord;
      assert.ok(got, `span ${s.name} stored`);
      compareSpan(got, s);
    }

    const logs = store.logs({ fromMs: 0, toMs: Date.now() + 60_000, limit: 10, ascending: true });
    assert.equal(logs.length, sentRecords.length);
    for (const l of sentRecords) {
      const got = logs.find((x) => x.severityNumber === Number(l.severityNumber));
      assert.ok(got);
      compareLog(got, l);
    }
  });
}

function compareSpan(got: SpanRecord, s: ReadableSpan): void {
  const ctx = s.spanContext();
  assert.equal(got.traceId, ctx.traceId);
  assert.equal(got.parentSpanId, s.parentSpanContext?.spanId ?? '');
  assert.equal(got.name, s.name);
  assert.equal(got.kind, s.kind + 1, 'OTLP kinds are the API kinds + 1');
  assert.equal(got.startTimeUnixNano, hrToNs(s.startTime));
  assert.equal(got.endTimeUnixNano, hrToNs(s.endTime));
  assert.match(got.startTimeUnixNano.toString(), /(789|007)$/, 'nanoseconds kept');
  assert.equal(got.flags & 0xff, ctx.traceFlags);
  assert.equal(got.traceState, ctx.traceState?.serialize() ?? '');
  assert.deepEqual(plainAttributes(got.attributes), s.attributes);
  assert.equal(got.droppedAttributesCount, s.droppedAttributesCount);
  assert.equal(got.statusCode, s.status.code);
  assert.equal(got.statusMessage, s.status.message ?? '');
  assert.deepEqual(
    got.events.map((e) => [e.name, e.timeUnixNano, plainAttributes(e.attributes), e.droppedAttributesCount]),
    s.events.map((e) => [e.name, hrToNs(e.time), e.attributes ?? {}, e.droppedAttributesCount ?? 0]),
  );
  assert.equal(got.droppedEventsCount, s.droppedEventsCount);
  assert.deepEqual(
    got.links.map((l) => [l.traceId, l.spanId, plainAttributes(l.attributes)]),
    s.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes ?? {}]),
  );
  assert.equal(got.droppedLinksCount, s.droppedLinksCount);
  assert.deepEqual(plainAttributes(got.resource.attributes), s.resource.attributes);
  assert.equal(got.scope.name, s.instrumentationScope.name);
  assert.equal(got.scope.version, s.instrumentationScope.version ?? '');
}

function compareLog(got: ReturnType<ReturnType<typeof openSqliteStore>['logs']>[number], l: ReadableLogRecord): void {
  assert.equal(got.timeUnixNano, hrToNs(l.hrTime));
  assert.equal(got.observedTimeUnixNano, hrToNs(l.hrTimeObserved));
  assert.equal(got.severityText, l.severityText ?? '');
  assert.deepEqual(plainValue(got.body), l.body);
  assert.deepEqual(plainAttributes(got.attributes), l.attributes);
  assert.equal(got.eventName, l.eventName ?? '');
  assert.equal(got.traceId, l.spanContext?.traceId ?? '');
  assert.equal(got.spanId, l.spanContext?.spanId ?? '');
  assert.equal(got.flags, l.spanContext?.traceFlags ?? 0);
  assert.deepEqual(plainAttributes(got.resource.attributes), l.resource.attributes);
  assert.equal(got.scope.name, l.instrumentationScope.name);
  assert.equal(got.scope.version, l.instrumentationScope.version ?? '');
}
