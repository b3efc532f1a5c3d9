// Tells the collector when a load-test run starts and ends: two OTLP log records
// (`meshlet.loadtest.started` / `.finished`) sent with the OpenTelemetry logs SDK over OTLP/HTTP
// (protobuf), carrying `meshlet.run` so the collector can tie the run to the spans its requests made.
// Telemetry never fails the run: an unreachable collector is reported, and the run goes on.
import { EVENT_NAME_ATTR, INFRA_EVENTS, LOADTEST_ATTR, RESOURCE, SEVERITY, ATTR } from '@meshlet/wire';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';

/** Whatever the run knows about itself when it starts. */
export interface RunIdentity {
  runId: string;
  name: string;
  /** The base URL the requests go to. */
  target: string;
}

export interface RunResult {
  requests: number;
  errors: number;
  thresholdsPassed: boolean;
  /** The k6-shaped summary, serialised. */
  summaryJson: string;
}

export interface RunEvents {
  started(run: RunIdentity, atMs: number): void;
  finished(run: RunIdentity, result: RunResult, atMs: number): void;
  /** Waits for every record to be sent (or to fail) and stops the exporter. */
  close(): Promise<void>;
}

export interface RunEventsOptions {
  /** The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`) or its logs endpoint. */
  collectorUrl: string;
  /** Told about each record that could not be delivered. */
  onExportFailure: (eventName: string, error: Error) => void;
  timeoutMs?: number;
  version?: string;
}

/** `http://host:4318` → `http://host:4318/v1/logs`; a URL that already names `/v1/logs` is kept. */
export function logsEndpoint(collectorUrl: string): string {
  const url = new URL(collectorUrl);
  if (!url.pathname.endsWith('/v1/logs')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/logs`;
  return url.toString();
}

/**
 * Creates the run's event sender.
 * @example
 * const events = createRunEvents({ collectorUrl: 'http://127.0.0.1:4318', onExportFailure: warn });
 * events.started({ runId, name: 'steady', target: 'http://127.0.0.1:8080' }, Date.now());
 * // ... run ...
 * events.finished(identity, { requests, errors, thresholdsPassed, summaryJson }, Date.now());
 * await events.close();
 */
export function createRunEvents(options: RunEventsOptions): RunEvents {
  const exporter = new OTLPLogExporter({ url: logsEndpoint(options.collectorUrl), timeoutMillis: options.timeoutMs ?? 3_000 /* 3 s per record, retries included */ });
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      [RESOURCE.serviceName]: 'meshlet-bench',
      [RESOURCE.component]: 'loadtest',
      ...(options.version === undefined ? {} : { [RESOURCE.serviceVersion]: options.version }),
    }),
    processors: [new SimpleLogRecordProcessor({ exporter: new ReportingExporter(exporter, options.onExportFailure) })],
  });
  const logger = provider.getLogger('meshlet-bench');

  const emit = (eventName: string, body: string, attributes: Attributes, atMs: number): void => {
    logger.emit({
      eventName,
      timestamp: atMs,
      observedTimestamp: Date.now(),
      severityNumber: SEVERITY.info,
      severityText: 'INFO',
      body,
      attributes: { [EVENT_NAME_ATTR]: eventName, ...attributes },
    });
  };

  return {
    started(run, atMs) {
      emit(INFRA_EVENTS.loadTestStarted, `load test ${run.name} started (run ${run.runId})`, identityAttributes(run), atMs);
    },
    finished(run, result, atMs) {
      emit(
        INFRA_EVENTS.loadTestFinished,
        `load test ${run.name} finished (run ${run.runId}): ${result.requests} requests, ${result.errors} failed, thresholds ${result.thresholdsPassed ? 'passed' : 'failed'}`,
        {
          ...identityAttributes(run),
          [LOADTEST_ATTR.requests]: result.requests,
          [LOADTEST_ATTR.errors]: result.errors,
          [LOADTEST_ATTR.thresholdsPassed]: result.thresholdsPassed,
          [LOADTEST_ATTR.summaryJson]: result.summaryJson,
        },
        atMs,
      );
    },
    async close() {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}

function identityAttributes(run: RunIdentity): Attributes {
  return { [ATTR.run]: run.runId, [LOADTEST_ATTR.name]: run.name, [LOADTEST_ATTR.target]: run.target };
}

/** Passes records to the OTLP exporter and reports the ones it could not deliver. */
class ReportingExporter implements LogRecordExporter {
  private readonly inner: LogRecordExporter;
  private readonly onFailure: (eventName: string, error: Error) => void;
  constructor(inner: LogRecordExporter, onFailure: (eventName: string, error: Error) => void) {
    this.inner = inner;
    this.onFailure = onFailure;
  }
  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(logs, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        const error = result.error ?? new Error('export failed');
        for (const log of logs) this.onFailure(log.eventName ?? String(log.attributes[EVENT_NAME_ATTR]), error);
      }
      resultCallback(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}
