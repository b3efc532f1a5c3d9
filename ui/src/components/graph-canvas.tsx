// Draws the service graph with React Flow at positions ELK computed (graph-layout.ts): services as
// focusable boxes coloured by health, calls as routed edges labelled rate · errors · p99.
// Origins of failures are marked with a filled ◆ and a solid red ring; services that only passed failures
// on get a dashed amber ring and "passes on".
import {
  BaseEdge,
  Controls,
  EdgeLabelRenderer,
  Handle,
  MarkerType,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  getBezierPath,
  getViewportForBounds,
  useReactFlow,
  useStore,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeProps,
} from '@xyflow/react';
import { memo, useEffect, useMemo, useState } from 'react';
import type { GraphEdge, GraphNode, GraphResponse } from '@meshlet/wire';
import { useResolvedTheme } from '../theme.ts';
import { formatMs, formatPercent, formatRate } from '../format.ts';
import type { Layout, Point } from '../graph-layout.ts';

export type Selection = { kind: 'node'; id: string } | { kind: 'edge'; id: string } | null;

/** `node:payments` / `edge:cart->payments` ↔ Selection (the URL form). */
export function parseSelection(text: string | null): Selection {
  if (!text) return null;
  if (text.startsWith('node:')) return { kind: 'node', id: text.slice(5) };
  if (text.startsWith('edge:')) return { kind: 'edge', id: text.slice(5) };
  return null;
}
export function formatSelection(selection: Selection): string | null {
  return selection ? `${selection.kind}:${selection.id}` : null;
}

/** What a service did with the failures in the window. */
export function nodeRole(node: GraphNode): 'origin' | 'propagated' | null {
  if (node.originFailures > 0) return 'origin';
  if (node.propagatedFailures > 0) return 'propagated';
  return null;
}

interface ServiceData extends Record<string, unknown> {
  node: GraphNode;
  compact: boolean;
  selected: boolean;
  dimmed: boolean;
  onSelect: (selection: Selection) => void;
}
interface CallData extends Record<string, unknown> {
  edge: GraphEdge;
  route: { points: Point[]; label: Point } | undefined;
  width: number;
  /** Whether the label is drawn (always, unless the graph is compact and the call is healthy and not selected). */
  showLabel: boolean;
  compact: boolean;
  selected: boolean;
  dimmed: boolean;
  onSelect: (selection: Selection) => void;
}
type ServiceNode = Node<ServiceData, 'service'>;
type CallEdge = Edge<CallData, 'call'>;

function nodeLabel(n: GraphNode, role: 'origin' | 'propagated' | null): string {
  const parts = [
    `${n.service}: ${n.health}`,
    `${formatRate(n.ratePerSecond)}`,
    `${formatPercent(n.errorRate)} errors`,
    `p99 ${formatMs(n.p99Ms)}`,
  ];
  if (role === 'origin') parts.push(`origin of ${n.originFailures} failures`);
  if (n.propagatedFailures > 0) parts.push(`passed on ${n.propagatedFailures} failures from services it calls`);
  if (n.dropsContext) parts.push('does not propagate trace context');
  return parts.join(', ');
}

const ServiceBox = memo(function ServiceBox({ data }: NodeProps<ServiceNode>) {
  const n = data.node;
  const role = nodeRole(n);
  return (
    <div
      className={`svc-node health-${n.health}${role ? ` role-${role}` : ''}${data.compact ? ' compact' : ''}${data.selected ? ' selected' : ''}${data.dimmed ? ' dimmed' : ''}`}
      data-testid="graph-node"
      data-service={n.service}
      data-role={role ?? 'none'}
      data-health={n.health}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button"
        className="svc-button nodrag"
        aria-label={nodeLabel(n, role)}
        aria-pressed={data.selected}
        onClick={() => data.onSelect(data.selected ? null : { kind: 'node', id: n.service })}
      >
        <span className="svc-title">
          {n.entry ? (
            <span className="svc-entry" title="Entry service: takes requests from outside the mesh">
              ⇥
            </span>
          ) : null}
          <span className="svc-name" title={n.service}>
            {n.service}
          </span>
          {n.dropsContext ? (
            <span className="svc-warn" title="Calls out without propagating trace context">
              ⚠
            </span>
          ) : null}
          {data.compact && role === 'origin' ? (
            <span className="svc-origin" title={`origin of ${n.originFailures} failures`}>
              ◆ {n.originFailures}
            </span>
          ) : data.compact && role === 'propagated' ? (
            <span className="svc-propagated" title={`passes on ${n.propagatedFailures} failures`}>
              ↑ {n.propagatedFailures}
            </span>
          ) : null}
        </span>
        <span className="svc-stats">
          {n.requests > 0 ? (
            <>
              {formatRate(n.ratePerSecond)} · <span className={n.errorRate > 0 ? 'err' : ''}>{formatPercent(n.errorRate)}{data.compact ? '' : ' err'}</span> · p99{' '}
              {formatMs(n.p99Ms)}
            </>
          ) : (
            <span className="muted">no spans of its own</span>
          )}
        </span>
        {data.compact ? null : (
          <span className="svc-meta">
            {role === 'origin' ? (
              <span className="svc-origin" title={`${n.originFailures} failures started in ${n.service}`}>
                ◆ origin of {n.originFailures}
              </span>
            ) : role === 'propagated' ? (
              <span className="svc-propagated" title={`${n.service} only passed on failures that started in services it calls`}>
                passes on {n.propagatedFailures}
              </span>
            ) : null}
            <span className="svc-meta-text">
              {n.versions.length > 1 ? n.versions.join(' / ') : (n.versions[0] ?? '')}
              {n.pods > 0 ? ` · ${n.pods} pod${n.pods === 1 ? '' : 's'}` : ''}
            </span>
          </span>
        )}
      </button>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

/** An SVG path through `points` with rounded corners (ELK routes are orthogonal). */
export function roundedPath(points: readonly Point[], radius = 10): string {
  if (points.length === 0) return '';
  const first = points[0]!;
  let d = `M ${first.x} ${first.y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const prev = points[i - 1]!;
    const p = points[i]!;
    const next = points[i + 1]!;
    const r = Math.min(radius, Math.hypot(p.x - prev.x, p.y - prev.y) / 2, Math.hypot(next.x - p.x, next.y - p.y) / 2);
    const a = towards(p, prev, r);
    const b = towards(p, next, r);
    d += ` L ${a.x} ${a.y} Q ${p.x} ${p.y} ${b.x} ${b.y}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L ${last.x} ${last.y}`;
}
function towards(from: Point, to: Point, distance: number): Point {
  const length = Math.hypot(to.x - from.x, to.y - from.y) || 1;
  return { x: from.x + ((to.x - from.x) * distance) / length, y: from.y + ((to.y - from.y) * distance) / length };
}

const CallLine = memo(function CallLine(props: EdgeProps<CallEdge>) {
  const data = props.data!;
  const e = data.edge;
  let path: string;
  let label: Point;
  if (data.route) {
    path = roundedPath(data.route.points);
    label = data.route.label;
  } else {
    const [bezier, lx, ly] = getBezierPath({
      sourceX: props.sourceX,
      sourceY: props.sourceY,
      sourcePosition: props.sourcePosition,
      targetX: props.targetX,
      targetY: props.targetY,
      targetPosition: props.targetPosition,
    });
    path = bezier;
    label = { x: lx, y: ly };
  }
  // Errors passed back from further downstream: dashed, so the eye goes to where they started.
  const passOnly = e.errors > 0 && e.originFailures === 0;
  const className = `call health-${e.health}${passOnly ? ' pass-only' : ''}${data.selected ? ' selected' : ''}${data.dimmed ? ' dimmed' : ''}`;
  const select = (): void => data.onSelect(data.selected ? null : { kind: 'edge', id: e.id });
  const description = `${e.from} calls ${e.to}: ${formatRate(e.ratePerSecond)}, ${formatPercent(e.errorRate)} errors, p99 ${formatMs(e.p99Ms)}`;
  return (
    <>
      <BaseEdge
        id={props.id}
        path={path}
        className={className}
        style={{ strokeWidth: data.width }}
        interactionWidth={16}
        {...(props.markerEnd ? { markerEnd: props.markerEnd } : {})}
      />
      {data.showLabel ? (
        <EdgeLabelRenderer>
          <button
            type="button"
            className={`edge-label nodrag nopan ${className}${data.compact ? ' compact' : ''}`}
            style={{ transform: `translate(-50%, -50%) translate(${label.x}px, ${label.y}px)` }}
            data-testid="graph-edge"
            data-edge={e.id}
            data-health={e.health}
            aria-label={description}
            aria-pressed={data.selected}
            onClick={select}
          >
            <span>
              {formatRate(e.ratePerSecond)} · <span className={e.errorRate > 0 ? 'err' : ''}>{formatPercent(e.errorRate)}</span>
            </span>
            {data.compact ? null : <span>p99 {formatMs(e.p99Ms)}</span>}
          </button>
        </EdgeLabelRenderer>
      ) : null}
    </>
  );
});

const nodeTypes = { service: ServiceBox };
const edgeTypes = { call: CallLine };

const HEALTH_COLOURS: Record<string, string> = { ok: '#2f9e6e', degraded: '#d08a0e', failing: '#d9443a', idle: '#8a94a3' };

export interface GraphCanvasProps {
  graph: GraphResponse;
  layout: Layout;
  selection: Selection;
  onSelect: (selection: Selection) => void;
  /** Bumped to fit the whole graph into view again (after a tidy layout). */
  fitSignal?: number;
  /** Accessible name of the graph region. */
  label: string;
}

export function GraphCanvas(props: GraphCanvasProps) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function Canvas({ graph, layout, selection, onSelect, fitSignal, label }: GraphCanvasProps) {
  const theme = useResolvedTheme();
  const flow = useReactFlow();
  const related = useMemo(() => {
    if (!selection) return null;
    const set = new Set<string>();
    if (selection.kind === 'node') {
      set.add(selection.id);
      for (const e of graph.edges) {
        if (e.from === selection.id || e.to === selection.id) set.add(e.from).add(e.to).add(`edge:${e.id}`);
      }
    } else {
      const e = graph.edges.find((x) => x.id === selection.id);
      if (e) set.add(e.from).add(e.to).add(`edge:${e.id}`);
    }
    return set;
  }, [graph, selection]);

  const nodes = useMemo<ServiceNode[]>(
    () =>
      graph.nodes.flatMap((n) => {
        const box = layout.nodes.get(n.service);
        if (!box) return [];
        return [
          {
            id: n.service,
            type: 'service' as const,
            position: { x: box.x, y: box.y },
            width: box.width,
            height: box.height,
            draggable: false,
            selectable: false,
            focusable: false,
            style: { width: box.width, height: box.height },
            data: {
              node: n,
              compact: layout.compact,
              selected: selection?.kind === 'node' && selection.id === n.service,
              dimmed: related !== null && !related.has(n.service),
              onSelect,
            },
          },
        ];
      }),
    [graph, layout, selection, related, onSelect],
  );

  // In a compact graph a call shows its numbers while the pointer is on it.
  const [hovered, setHovered] = useState<string | null>(null);
  const edges = useMemo<CallEdge[]>(() => {
    const maxRate = Math.max(0.001, ...graph.edges.map((e) => e.ratePerSecond));
    // Busier calls draw thicker, on a log scale so one hot path does not make the rest hairlines.
    const strokeWidth = (e: GraphEdge): number => 1.5 + 3.5 * (Math.log1p(e.ratePerSecond) / Math.log1p(maxRate));
    return graph.edges
      .filter((e) => layout.nodes.has(e.from) && layout.nodes.has(e.to))
      .map((e) => ({
        id: e.id,
        source: e.from,
        target: e.to,
        type: 'call' as const,
        selectable: false,
        focusable: false,
        // Marker size is in stroke widths: keep the arrowhead ~12 px whatever the line's width.
        markerEnd: { type: MarkerType.ArrowClosed, width: 48 / strokeWidth(e), height: 48 / strokeWidth(e), color: HEALTH_COLOURS[e.health] ?? '#888' },
        data: {
          edge: e,
          route: layout.edges.get(e.id),
          width: strokeWidth(e),
          compact: layout.compact,
          // Compact graphs have no room reserved for labels: only the calls of the selection get one.
          showLabel: !layout.compact || hovered === e.id || (related !== null && related.has(`edge:${e.id}`)),
          selected: selection?.kind === 'edge' && selection.id === e.id,
          dimmed: related !== null && !related.has(`edge:${e.id}`),
          onSelect,
        },
      }));
  }, [graph, layout, selection, related, onSelect, hovered]);

  // Fit the laid-out graph into the pane once the pane has a size, and again after a tidy layout;
  // never on live updates. Computed from the layout itself, so it does not wait for DOM measurement.
  // Zoomed far out, boxes show only names (in a larger font) and the origin marks.
  const zoom = useStore((state) => state.transform[2]);
  const far = zoom < 0.62;
  // The overview map only helps once the user zoomed in past the fitted view (it would cover the graph otherwise).
  const [fitZoom, setFitZoom] = useState(1);
  const paneWidth = useStore((state) => state.width);
  const paneHeight = useStore((state) => state.height);
  const sized = paneWidth > 0 && paneHeight > 0;
  useEffect(() => {
    if (!sized) return;
    const boxes = [...layout.nodes.values()];
    if (boxes.length === 0) return;
    const x = Math.min(...boxes.map((b) => b.x));
    const y = Math.min(...boxes.map((b) => b.y));
    const width = Math.max(...boxes.map((b) => b.x + b.width)) - x;
    const height = Math.max(...boxes.map((b) => b.y + b.height)) - y;
    const viewport = getViewportForBounds({ x, y, width, height }, paneWidth, paneHeight, 0.15, 1.1, 0.06);
    setFitZoom(viewport.zoom);
    void flow.setViewport(viewport);
  }, [sized, fitSignal]);

  return (
    <div className={`graph-canvas${far ? ' zoom-far' : ''}`} role="region" aria-label={label} data-testid="graph-canvas">
      <ReactFlow<ServiceNode, CallEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        colorMode={theme}
        minZoom={0.15}
        maxZoom={2.5}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        onlyRenderVisibleElements={false}
        proOptions={{ hideAttribution: true }}
        onPaneClick={() => onSelect(null)}
        onEdgeMouseEnter={(_event, edge) => setHovered(edge.id)}
        onEdgeMouseLeave={() => setHovered(null)}
        onEdgeClick={(_event, edge) => onSelect(selection?.kind === 'edge' && selection.id === edge.id ? null : { kind: 'edge', id: edge.id })}
        zoomOnDoubleClick={false}
      >
        <Controls showInteractive={false} position="bottom-left" />
        {graph.nodes.length > 12 && zoom > fitZoom * 1.2 ? (
          <MiniMap<ServiceNode>
            pannable
            zoomable
            position="bottom-right"
            nodeColor={(n) => HEALTH_COLOURS[n.data.node.health] ?? '#888'}
            ariaLabel="Overview of the whole graph"
          />
        ) : null}
      </ReactFlow>
    </div>
  );
}
