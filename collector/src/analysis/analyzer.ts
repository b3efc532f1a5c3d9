// Runs the trace analysis: a trace is analysed once no span of it has arrived for the quiet time, and
// again when late spans arrive. Spans just written are kept in memory (bounded, in their compact form) so
// the usual first analysis does not read them back from the store.
import type { SpanRecord } from '../otlp/model.ts';
import type { PendingTrace, TraceWriter } from '../store/store.ts';
import { analyseTrace, type TraceAnalysis } from './analyse-trace.ts';
import { contributionOf, type TraceContribution } from './contribution.ts';
import { type CompactFacts, compactFacts, expandFacts, factsOf } from './facts.ts';

export interface AnalyzerOptions {
  store: TraceWriter;
  /** A trace is analysed when it has been quiet this long. */
  quietMs: number;
  /** Traces analysed per step (one step blocks the event loop; the next step runs after I/O). */
  batchSize?: number;
  /** Spans kept in memory for analysis; beyond it, traces are read back from the store. */
  maxCachedSpans?: number;
  now?: () => number;
}

export interface AnalysedTrace {
  analysis: TraceAnalysis;
  contribution: TraceContribution;
  /** The trace had been analysed before (late spans arrived). */
  reanalysed: boolean;
  /** The contribution of the previous analysis, taken back from the aggregates. */
  previous: TraceContribution | null;
}

export interface Analyzer {
  /** Remembers spans just stored, for their trace's coming analysis. */
  observe(spans: SpanRecord[]): void;
  /** Analyses up to one batch of quiet traces; returns what was analysed. */
  step(): AnalysedTrace[];
  /** Analyses every trace quiet by now (for tests and shutdown). */
  drain(): AnalysedTrace[];
  /** How far behind the analysis is: age beyond the quiet time of the oldest trace still waiting, in ms. */
  readonly lagMs: number;
  readonly cachedSpans: number;
}

export function createAnalyzer(options: AnalyzerOptions): Analyzer {
  const now = options.now ?? Date.now;
  // Each step writes the aggregate rows its traces touch once: larger steps write fewer rows per trace
  // (a step of 1000 traces takes a few tens of ms).
  const batchSize = options.batchSize ?? 1000;
  // Enough for the spans of the quiet time (2 s by default) at the ingest rate of one core (~100 k spans/s
  // would need 250 k): a trace not kept is read back from the store, which costs more than its ingest.
  // ~150 bytes a span (compact facts): ~40 MB when full.
  const maxCached = options.maxCachedSpans ?? 250_000;
  const cache = new Map<string, CompactFacts[]>();
  let cachedSpans = 0;
  let lagMs = 0;

  /** The contribution of a trace's previous analysis: the same analysis over the spans it covered. */
  function previousContribution(p: PendingTrace): TraceContribution | null {
    if (p.analysedCount === 0) return null;
    const facts = options.store.traceSpans(p.traceId, p.analysedCount).map(factsOf);
    return facts.length === 0 ? null : contributionOf(analyseTrace(facts), facts);
  }

  function step(): AnalysedTrace[] {
    const quietBefore = now() - options.quietMs;
    const pending = options.store.pendingTraces(quietBefore, batchSize);
    const out: AnalysedTrace[] = [];
    for (const p of pending) {
      const cached = cache.get(p.traceId);
      if (cached !== undefined) {
        cache.delete(p.traceId);
        cachedSpans -= cached.length;
      }
      const facts =
        cached === undefined || cached.length !== p.spanCount || p.analysedBefore
          ? options.store.traceSpans(p.traceId).map(factsOf)
          : cached.map((c) => expandFacts(c, p.traceId));
      if (facts.length === 0) continue;
      const analysis = analyseTrace(facts);
      out.push({ analysis, contribution: contributionOf(analysis, facts), reanalysed: p.analysedBefore, previous: previousContribution(p) });
    }
    options.store.saveAnalyses(out.map((a) => ({ analysis: a.analysis, contribution: a.contribution, spanCount: a.analysis.spanCount, previous: a.previous })));
    const next = options.store.pendingTraces(quietBefore, 1)[0];
    lagMs = next === undefined ? 0 : Math.max(0, quietBefore - next.lastReceivedMs);
    return out;
  }

  return {
    observe(spans: SpanRecord[]): void {
      for (const s of spans) {
        let list = cache.get(s.traceId);
        if (list === undefined) {
          if (cachedSpans >= maxCached) continue;
          cache.set(s.traceId, (list = []));
        }
        const facts = compactFacts(factsOf(s));
        if (facts === undefined) {
          // Not kept compact (a span longer than 104 days): the trace is read back from the store.
          cache.delete(s.traceId);
          cachedSpans -= list.length;
          continue;
        }
        list.push(facts);
        cachedSpans++;
      }
    },
    step,
    drain(): AnalysedTrace[] {
      const all: AnalysedTrace[] = [];
      for (;;) {
        const batch = step();
        all.push(...batch);
        if (batch.length < batchSize) return all;
      }
    },
    get lagMs() {
      return lagMs;
    },
    get cachedSpans() {
      return cachedSpans;
    },
  };
}
