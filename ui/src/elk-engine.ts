// ELK for the browser: the layout runs in a Web Worker (ELK's own ready-made worker script, copied into
// dist as is), so laying out a large graph never blocks scrolling, clicks or the live stream on the page.
import ElkApi from 'elkjs/lib/elk-api.js';
import elkWorkerUrl from 'elkjs/lib/elk-worker.min.js?url';
import type { ElkEngine } from './graph-layout.ts';

export function createWorkerElk(): ElkEngine {
  const Api = ElkApi as unknown as new (options: { workerFactory: () => Worker }) => ElkEngine;
  return new Api({ workerFactory: () => new Worker(elkWorkerUrl) });
}
