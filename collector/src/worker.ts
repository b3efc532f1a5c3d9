// The collector's worker thread: `meshlet collector` runs the collector here so that V8's heap can be
// bounded (Worker `resourceLimits`; flags such as --max-old-space-size cannot be set once a process runs).
// Without a bound, V8 lets the heap grow with the allocation rate of a busy ingest and the RSS passes
// 300 MB although the live data is a fraction of it. Messages: main → worker `close`; worker → main
// `listening { otlp, http }`, `failed { message }`, `closed`.
import { parentPort, workerData } from 'node:worker_threads';
import type { CollectorConfig } from '@meshlet/wire';
import { pino } from 'pino';
import { createCollector } from './collector.ts';

export interface WorkerInput {
  config: CollectorConfig;
  uiDir: string;
  version: string;
}

export type WorkerMessage = { type: 'listening'; otlp: string; http: string } | { type: 'failed'; message: string } | { type: 'closed' };

const port = parentPort;
if (port === null) throw new Error('collector/src/worker.ts runs as a worker thread');
const input = workerData as WorkerInput;
const log = pino({ name: 'collector', level: input.config.logLevel }, pino.destination({ dest: 2, sync: true }));
const post = (m: WorkerMessage): void => port.postMessage(m);

try {
  const collector = await createCollector({ config: input.config, uiDir: input.uiDir, log, version: input.version });
  port.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    collector.close().then(
      () => post({ type: 'closed' }),
      (err: unknown) => post({ type: 'failed', message: (err as Error).message }),
    );
  });
  post({ type: 'listening', otlp: collector.otlpAddress, http: collector.httpAddress });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
}
