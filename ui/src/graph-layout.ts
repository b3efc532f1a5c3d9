// Lays out the service graph left to right with ELK's layered algorithm (entry services first), and
// merges a new layout into the one on screen so live updates never move nodes the user is looking at.
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';

export const NODE_WIDTH = 196;
export const NODE_HEIGHT = 74;
/** Room ELK keeps for an edge's label (rate · errors · p99 on two lines). */
export const EDGE_LABEL_WIDTH = 132;
export const EDGE_LABEL_HEIGHT = 34;
/**
 * Above this many services the graph is drawn compact: smaller boxes (name and one line of numbers),
 * no room reserved for edge labels (only troubled or selected calls show one), tighter spacing — so 50
 * services fit a screen at a zoom where names stay legible.
 */
export const COMPACT_ABOVE = 16;
export const COMPACT_NODE_WIDTH = 158;
export const COMPACT_NODE_HEIGHT = 44;
const GAP = 28;

export interface Point {
  x: number;
  y: number;
}
export interface NodeBox extends Point {
  width: number;
  height: number;
}
export interface EdgeRoute {
  /** Polyline from the caller's border to the callee's border. */
  points: Point[];
  /** Centre of the label. */
  label: Point;
}
export interface Layout {
  /** Drawn compact (see COMPACT_ABOVE). */
  compact: boolean;
  nodes: Map<string, NodeBox>;
  /** Routes of the edges ELK laid out; an edge added later has none and is drawn as a curve. */
  edges: Map<string, EdgeRoute>;
}

export interface LayoutInput {
  nodes: readonly { service: string; entry: boolean }[];
  edges: readonly { id: string; from: string; to: string }[];
}

/** The part of ELK's API used here. */
export type ElkEngine = { layout: (graph: ElkNode) => Promise<ElkNode> };
let elk: Promise<ElkEngine> | undefined;

/**
 * Loaded on first use (ELK is most of the UI's code and only the graphs need it): in a browser a
 * Web Worker (elk-engine.ts); elsewhere (unit tests under Node) the bundled build on the calling thread.
 */
function loadElk(): Promise<ElkEngine> {
  if (typeof window !== 'undefined' && typeof Worker !== 'undefined') {
    elk ??= import('./elk-engine.ts').then((m) => m.createWorkerElk());
  } else {
    // A module name in a variable, so the browser build does not bundle this second copy of ELK.
    const bundled = 'elkjs/lib/elk.bundled.js';
    elk ??= (import(bundled) as Promise<{ default?: unknown }>).then((m) => {
      const Elk = (m.default ?? m) as new () => ElkEngine;
      return new Elk();
    });
  }
  return elk;
}

/** Lays the whole graph out. Input order is kept where ELK has a free choice, so the same graph lays out the same way. */
export async function layoutGraph(input: LayoutInput, compact = input.nodes.length > COMPACT_ABOVE): Promise<Layout> {
  const width = compact ? COMPACT_NODE_WIDTH : NODE_WIDTH;
  const height = compact ? COMPACT_NODE_HEIGHT : NODE_HEIGHT;
  const known = new Set(input.nodes.map((n) => n.service));
  const nodes = [...input.nodes].sort((a, b) => Number(b.entry) - Number(a.entry) || a.service.localeCompare(b.service));
  const edges = input.edges.filter((e) => known.has(e.from) && known.has(e.to)).sort((a, b) => a.id.localeCompare(b.id));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': compact ? '56' : '72',
      'elk.layered.spacing.edgeNodeBetweenLayers': compact ? '16' : '24',
      'elk.spacing.nodeNode': compact ? '14' : '30',
      'elk.spacing.edgeEdge': '14',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
      'elk.separateConnectedComponents': 'true',
      'elk.spacing.componentComponent': '48',
    },
    children: nodes.map((n) => ({
      id: n.service,
      width,
      height,
      // Services that take requests from outside the mesh start the flow on the left.
      ...(n.entry ? { layoutOptions: { 'elk.layered.layering.layerConstraint': 'FIRST' } } : {}),
    })),
    edges: edges.map<ElkExtendedEdge>((e) => ({
      id: e.id,
      sources: [e.from],
      targets: [e.to],
      ...(compact ? {} : { labels: [{ id: `${e.id}#label`, text: e.id, width: EDGE_LABEL_WIDTH, height: EDGE_LABEL_HEIGHT }] }),
    })),
  };
  const result = await (await loadElk()).layout(graph);
  const layout: Layout = { compact, nodes: new Map(), edges: new Map() };
  for (const child of result.children ?? []) {
    layout.nodes.set(child.id, { x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? width, height: child.height ?? height });
  }
  for (const edge of result.edges ?? []) {
    const points: Point[] = [];
    for (const section of edge.sections ?? []) {
      if (points.length === 0) points.push(section.startPoint);
      points.push(...(section.bendPoints ?? []), section.endPoint);
    }
    const label = edge.labels?.[0];
    if (points.length < 2) continue;
    const centre =
      label && label.x !== undefined && label.y !== undefined
        ? { x: label.x + (label.width ?? 0) / 2, y: label.y + (label.height ?? 0) / 2 }
        : midpoint(points);
    layout.edges.set(edge.id, { points, label: centre });
  }
  return layout;
}

/** The point halfway along a polyline. */
export function midpoint(points: readonly Point[]): Point {
  let total = 0;
  for (let i = 1; i < points.length; i++) total += dist(points[i - 1]!, points[i]!);
  let left = total / 2;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const d = dist(a, b);
    if (left <= d && d > 0) return { x: a.x + ((b.x - a.x) * left) / d, y: a.y + ((b.y - a.y) * left) / d };
    left -= d;
  }
  return points[0] ?? { x: 0, y: 0 };
}

function dist(a: Point, b: Point): number {
  return Math.hypot(b.x - a.x, b.y - a.y);
}

/** True when `layout` has a place for every node of `input` (then no layout is needed at all). */
export function coversNodes(layout: Layout | undefined, input: LayoutInput): boolean {
  return layout !== undefined && input.nodes.every((n) => layout.nodes.has(n.service));
}

/**
 * Keeps every node of `previous` where it is and places only the new nodes, in the column ELK chose for
 * them (`fresh`), below whatever already occupies that column. Edges between kept nodes keep their
 * routes; edges that touch a new node lose theirs (drawn as curves) until the user asks for a tidy layout.
 */
export function mergeLayout(previous: Layout, fresh: Layout): Layout {
  const nodes = new Map<string, NodeBox>();
  for (const [id, box] of previous.nodes) if (fresh.nodes.has(id)) nodes.set(id, box);
  const added = [...fresh.nodes.entries()].filter(([id]) => !previous.nodes.has(id)).sort((a, b) => a[1].y - b[1].y);
  for (const [id, box] of added) {
    let y = box.y;
    for (;;) {
      const clash = [...nodes.values()].find((o) => overlaps({ ...box, y }, o));
      if (!clash) break;
      y = clash.y + clash.height + GAP;
    }
    nodes.set(id, { ...box, y });
  }
  const edges = new Map<string, EdgeRoute>();
  for (const [id, route] of previous.edges) {
    const [from, to] = splitEdgeId(id);
    if (from !== undefined && to !== undefined && previous.nodes.has(from) && previous.nodes.has(to) && nodes.has(from) && nodes.has(to)) {
      edges.set(id, route);
    }
  }
  return { compact: previous.compact, nodes, edges };
}

function overlaps(a: NodeBox, b: NodeBox): boolean {
  return a.x < b.x + b.width + GAP / 2 && b.x < a.x + a.width + GAP / 2 && a.y < b.y + b.height + GAP / 2 && b.y < a.y + a.height + GAP / 2;
}

/** `a->b` → [a, b]. */
export function splitEdgeId(id: string): [string | undefined, string | undefined] {
  const at = id.indexOf('->');
  return at < 0 ? [undefined, undefined] : [id.slice(0, at), id.slice(at + 2)];
}
