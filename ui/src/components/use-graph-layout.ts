// Keeps a layout for a graph that changes live: lays out once, then only places services that appear
// (existing ones never move); `tidy()` lays everything out again on request.
import { useCallback, useEffect, useRef, useState } from 'react';
import { coversNodes, layoutGraph, mergeLayout, type Layout, type LayoutInput } from '../graph-layout.ts';

export interface GraphLayoutState {
  layout: Layout | undefined;
  /** Set when ELK failed (should not happen; shown instead of a blank canvas). */
  error: string | undefined;
  /** Bumped after a tidy layout so the canvas fits the graph again. */
  fitSignal: number;
  tidy: () => void;
}

export function useGraphLayout(graph: LayoutInput | undefined): GraphLayoutState {
  const [layout, setLayout] = useState<Layout | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [fitSignal, setFitSignal] = useState(0);
  const current = useRef<Layout | undefined>(undefined);
  const sequence = useRef(0);
  const latest = useRef(graph);
  latest.current = graph;

  const run = useCallback((input: LayoutInput, keep: boolean) => {
    const mine = ++sequence.current;
    // Growing past the compact threshold keeps the drawing style until the user tidies the layout.
    layoutGraph(input, keep && current.current ? current.current.compact : undefined)
      .then((fresh) => {
        if (mine !== sequence.current) return;
        const next = keep && current.current ? mergeLayout(current.current, fresh) : fresh;
        current.current = next;
        setLayout(next);
        setError(undefined);
        if (!keep) setFitSignal((s) => s + 1);
      })
      .catch((err: unknown) => {
        if (mine === sequence.current) setError(`The graph could not be laid out: ${String(err)}`);
      });
  }, []);

  // Only the set of services matters for placement; metrics changing never re-lays out.
  const nodeKey = graph ? graph.nodes.map((n) => n.service).sort().join('\n') : '';
  useEffect(() => {
    const input = latest.current;
    if (!input || input.nodes.length === 0) return;
    if (coversNodes(current.current, input)) return;
    run(input, current.current !== undefined);
  }, [nodeKey, run]);

  const tidy = useCallback(() => {
    if (latest.current) run(latest.current, false);
  }, [run]);

  return { layout, error, fitSignal, tidy };
}
