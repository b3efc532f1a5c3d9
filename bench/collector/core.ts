// The collector's core without HTTP, in one process: protobuf decode, `store.write` (grouped commits,
// synchronous=FULL) and the analysis, over the bench's shop traces. Reports spans per CPU-second of this
// process. Less noisy than run.ts on a shared machine (no HTTP, no second process), so it can show changes
// of a few per cent; run two builds interleaved under the bench lock, pinned to one core:
//   taskset -c 0 node bench/collector/core.ts [--spans 150000] [--root /path/to/other/checkout]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as AnalyzerModule from '../../collector/src/analysis/analyzer.ts';
import type * as DecodeModule from '../../collector/src/otlp/decode-proto.ts';
import type * as EncodeModule from '../../collector/src/otlp/encode.ts';
import type * as FactsModule from '../../collector/src/analysis/facts.ts';
import type { SpanRecord } from '../../collector/src/otlp/model.ts';
import type * as StoreModule from '../../collector/src/store/sqlite-store.ts';
import type * as ShopModule from '../../collector/test/fixtures/shop.ts';
import type * as BuilderModule from '../../collector/test/fixtures/trace-builder.ts';

const { values: args } = parseArgs({
  options: {
    spans: { type: 'string', default: '150000' },
    /**
     * `run`: what run.ts sends: 200 templates whose start times spread over the last 15 minutes (a step's
     * traces touch ~80 aggregate buckets) and a 2 s analysis quiet time (the analysis keeps seconds of
     * spans); `narrow` (default): 50 templates in the last minute, 300 ms quiet time.
     */
    load: { type: 'string', default: 'narrow' },
    /** Another checkout whose collector code to measure (default: this one). */
    root: { type: 'string', default: join(import.meta.dirname, '..', '..') },
  },
});
const root = args.root;
const load = async <T>(path: string): Promise<T> => (await import(join(root, path))) as T;
const { encodeTraceRequest } = await load<typeof EncodeModule>('collector/src/otlp/encode.ts');
const { decodeTraceRequest } = await load<typeof DecodeModule>('collector/src/otlp/decode-proto.ts');
const { openSqliteStore } = await load<typeof StoreModule>('collector/src/store/sqlite-store.ts');
const { createAnalyzer } = await load<typeof AnalyzerModule>('collector/src/analysis/analyzer.ts');
// What the receiver asks the decoder to keep of span attributes (a checkout from before it: all).
const { FACT_ATTRIBUTES } = await load<Partial<typeof FactsModule>>('collector/src/analysis/facts.ts');
const { nextShopTrace } = await load<typeof ShopModule>('collector/test/fixtures/shop.ts');
const { seededRandom } = await load<typeof BuilderModule>('collector/test/fixtures/trace-builder.ts');

if (args.load !== 'run' && args.load !== 'narrow') throw new Error('--load is run or narrow');
const runLoad = args.load === 'run';
// Request bodies of ~500 spans, as run.ts sends; each send stamps a counter into the trace ids.
const random = seededRandom(4318);
const now = Date.now();
const bodies: { body: Buffer; offsets: number[] }[] = [];
const templates = runLoad ? 200 : 50;
for (let i = 0; i < templates; i++) {
  const spans: SpanRecord[] = [];
  const startMs = runLoad ? now - 15 * 60_000 + Math.floor((i / templates) * 14 * 60_000) : now - 60_000;
  const spreadMs = runLoad ? 60_000 : 50_000;
  while (spans.length < 500) spans.push(...nextShopTrace({ random, startNs: BigInt(startMs + Math.floor(random() * spreadMs)) * 1_000_000n }).spans);
  const body = encodeTraceRequest(spans);
  const offsets: number[] = [];
  for (const traceId of new Set(spans.map((s) => s.traceId))) {
    const id = Buffer.from(traceId, 'hex');
    for (let at = body.indexOf(id); at >= 0; at = body.indexOf(id, at + 16)) offsets.push(at);
  }
  bodies.push({ body, offsets });
}

const dir = mkdtempSync(join(tmpdir(), 'meshlet-bench-core-'));
try {
  const store = openSqliteStore({ dir, sync: 'full' });
  const analyzer = createAnalyzer({ store, quietMs: runLoad ? 2_000 : 300 });
  const target = Number(args.spans);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let spans = 0;
  let sent = 0;
  while (spans < target) {
    // Three requests per commit, an analysis step every four commits (about what run.ts sees).
    const writes: Promise<void>[] = [];
    for (let k = 0; k < 3; k++) {
      const template = bodies[sent % bodies.length] as { body: Buffer; offsets: number[] };
      const body = Buffer.from(template.body);
      sent++;
      for (const at of template.offsets) body.writeUInt32BE(sent, at);
      const decoded = decodeTraceRequest(body, { attributeKeys: FACT_ATTRIBUTES });
      spans += decoded.items.length;
      // `encodedSpans` as the receiver passes them (a store that does not keep them ignores them).
      writes.push(store.write({ spans: decoded.items, encodedSpans: decoded.encoded, logs: [] }).then((r) => analyzer.observe(r.insertedSpans)));
    }
    await Promise.all(writes);
    if (sent % 12 === 0) analyzer.step();
  }
  await new Promise((resolve) => setTimeout(resolve, runLoad ? 2_100 : 400));
  analyzer.drain();
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await store.close();
  console.log(JSON.stringify({
    root,
    load: args.load,
    spans,
    cpuSeconds: Math.round(cpuSeconds * 100) / 100,
    systemSeconds: Math.round(cpu.system / 1e4) / 100,
    spansPerCpuSecond: Math.round(spans / cpuSeconds),
    wallSeconds: Math.round(performance.now() - started) / 1000,
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
