// Infrastructure events, pod snapshots and container output sent to the collector as OTLP log
// records (OpenTelemetry SDK, OTLP/HTTP protobuf), each pod with its own resource attributes so the
// collector can put events on the pod's traces and in the Mesh view. Export is batched and bounded:
// a slow or absent collector drops records (counted), never blocks the runtime.
import { SeverityNumber, type Attributes } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { EVENT_NAME_ATTR, LOG_IOSTREAM_ATTR, RESOURCE, type InfraEventName } from '@meshlet/wire';

export interface PodIdentity {
  mesh: string;
  service: string;
  version: string | undefined;
  pod: string;
  ip: string;
}

export type EventAttributes = Record<string, string | number | boolean | undefined>;

export interface PodTelemetry {
  /** An infrastructure event (`INFRA_EVENTS`), with its attributes and a one-line body. */
  event(name: InfraEventName, attributes: EventAttributes, body: string, severity?: number): void;
  /** One line of container output. */
  output(container: 'app' | 'sidecar', stream: 'stdout' | 'stderr', line: string): void;
  close(): Promise<void>;
}

export interface TelemetryHub {
  forPod(id: PodIdentity): PodTelemetry;
  /** Events about the mesh itself (no pod). */
  mesh(): PodTelemetry;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface TelemetryOptions {
  /** OTLP/HTTP base URL (`http://10.77.0.1:4318`), or null to send nothing. */
  collectorUrl: string | null;
  mesh: string;
  /** For tests: where records go instead of OTLP/HTTP. */
  exporterFactory?: () => LogRecordExporter;
  scheduledDelayMs?: number;
}

const noop: PodTelemetry = { event() {}, output() {}, close: () => Promise.resolve() };

function attributes(attrs: EventAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

export function createTelemetryHub(o: TelemetryOptions): TelemetryHub {
  if (o.collectorUrl === null) return { forPod: () => noop, mesh: () => noop, flush: () => Promise.resolve(), close: () => Promise.resolve() };
  const url = `${o.collectorUrl.replace(/\/$/, '')}/v1/logs`;
  const providers = new Set<LoggerProvider>();
  const provider = (resource: Record<string, string>) => {
    const exporter = o.exporterFactory?.() ?? new OTLPLogExporter({ url, timeoutMillis: 5_000 });
    const p = new LoggerProvider({
      resource: resourceFromAttributes(resource),
      processors: [new BatchLogRecordProcessor({ exporter, maxQueueSize: 4096, maxExportBatchSize: 512, scheduledDelayMillis: o.scheduledDelayMs ?? 250, exportTimeoutMillis: 5_000 })],
    });
    providers.add(p);
    return p;
  };
  const make = (base: Record<string, string>): PodTelemetry => {
    const runtimeProvider = provider({ ...base, [RESOURCE.component]: 'runtime' });
    const events = runtimeProvider.getLogger('meshlet.runtime');
    let appProvider: LoggerProvider | undefined;
    let sidecarProvider: LoggerProvider | undefined;
    const outputLogger = (container: 'app' | 'sidecar') => {
      if (container === 'app') return (appProvider ??= provider({ ...base, [RESOURCE.component]: 'app' })).getLogger('meshlet.runtime.output');
      return (sidecarProvider ??= provider({ ...base, [RESOURCE.component]: 'sidecar' })).getLogger('meshlet.runtime.output');
    };
    return {
      event(name, attrs, body, severity = SeverityNumber.INFO) {
        events.emit({ eventName: name, severityNumber: severity, severityText: SeverityNumber[severity], body, attributes: attributes({ ...attrs, [EVENT_NAME_ATTR]: name }) });
      },
      output(container, stream, line) {
        outputLogger(container).emit({
          severityNumber: stream === 'stderr' ? SeverityNumber.WARN : SeverityNumber.INFO,
          severityText: stream === 'stderr' ? 'WARN' : 'INFO',
          body: line,
          attributes: { [LOG_IOSTREAM_ATTR]: stream },
        });
      },
      async close() {
        for (const p of [runtimeProvider, appProvider, sidecarProvider]) {
          if (p === undefined) continue;
          providers.delete(p);
          await p.shutdown().catch(() => {});
        }
      },
    };
  };
  let meshTelemetry: PodTelemetry | undefined;
  return {
    forPod: (id) =>
      make({
        [RESOURCE.serviceName]: id.service,
        ...(id.version === undefined ? {} : { [RESOURCE.serviceVersion]: id.version }),
        [RESOURCE.serviceInstanceId]: id.pod,
        [RESOURCE.mesh]: id.mesh,
        [RESOURCE.pod]: id.pod,
        [RESOURCE.podIp]: id.ip,
      }),
    mesh: () => (meshTelemetry ??= make({ [RESOURCE.serviceName]: 'meshlet-runtime', [RESOURCE.mesh]: o.mesh })),
    async flush() {
      await Promise.all([...providers].map((p) => p.forceFlush().catch(() => {})));
    },
    async close() {
      await Promise.all([...providers].map((p) => p.shutdown().catch(() => {})));
      providers.clear();
    },
  };
}
