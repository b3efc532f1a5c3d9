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
  useReactFlow,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeProps,
} from '@xyflow/react';
import { memo, useEffect, useMemo } from 'react';
import type { GraphEdge, GraphNode, GraphResponse } from '@meshlet/wire';
import { useResolvedTheme } from '../theme.ts';
import { formatMs, formatPercent, formatRate } from '../format.ts';
import { NODE_HEIGHT, NODE_WIDTH, type Layout, type Point } from '../graph-layout.ts';

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
  selected: boolean;
  dimmed: boolean;
  onSelect: (selection: Selection) => void;
}
interface CallData extends Record<string, unknown> {
  edge: GraphEdge;
  route: { points: Point[]; label: Point } | undefined;
  width: number;
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
      className={`svc-node health-${n.health}${role ? ` role-${role}` : ''}${data.selected ? ' selected' : ''}${data.dimmed ? ' dimmed' : ''}`}
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
          <span className="svc-name">{n.service}</span>
          {role === 'origin' ? (
            <span className="svc-origin" title={`${n.originFailures} failures started in ${n.service}`}>
              ◆ origin {n.originFailures}
            </span>
          ) : role === 'propagated' ? (
            <span className="svc-propagated" title={`${n.service} only passed on failures that started in services it calls`}>
              passes on {n.propagatedFailures}
            </span>
          ) : null}
        </span>
        <span className="svc-stats">
          {n.requests > 0 ? (
            <>
              {formatRate(n.ratePerSecond)} · <span className={n.errorRate > 0 ? 'err' : ''}>{formatPercent(n.errorRate)} err</span> · p99{' '}
              {formatMs(n.p99Ms)}
            </>
          ) : (
            <span className="muted">no spans of its own</span>
          )}
        </span>
        <span className="svc-meta">
          {n.versions.length > 1 ? n.versions.join(' / ') : n.versions[0] ?? ''}
          {n.pods > 0 ? ` · ${n.pods} pod${n.pods === 1 ? '' : 's'}` : ''}
          {n.dropsContext ? <span className="svc-warn" title="Calls out without propagating trace context"> · ⚠ context</span> : null}
        </span>
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
      <EdgeLabelRenderer>
        <button
          type="button"
          className={`edge-label nodrag nopan ${className}`}
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
          <span>p99 {formatMs(e.p99Ms)}</span>
        </button>
      </EdgeLabelRenderer>
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
            width: NODE_WIDTH,
            height: NODE_HEIGHT,
            draggable: false,
            selectable: false,
            focusable: false,
            data: {
              node: n,
              selected: selection?.kind === 'node' && selection.id === n.service,
              dimmed: related !== null && !related.has(n.service),
              onSelect,
            },
          },
        ];
      }),
    [graph, layout, selection, related, onSelect],
  );

  const edges = useMemo<CallEdge[]>(() => {
    const maxRate = Math.max(0.001, ...graph.edges.map((e) => e.ratePerSecond));
    return graph.edges
      .filter((e) => layout.nodes.has(e.from) && layout.nodes.has(e.to))
      .map((e) => ({
        id: e.id,
        source: e.from,
        target: e.to,
        type: 'call' as const,
        selectable: false,
        focusable: false,
        markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16, color: HEALTH_COLOURS[e.health] ?? '#888' },
        data: {
          edge: e,
          route: layout.edges.get(e.id),
          width: 1.5 + 3.5 * (Math.log1p(e.ratePerSecond) / Math.log1p(maxRate)),
          selected: selection?.kind === 'edge' && selection.id === e.id,
          dimmed: related !== null && !related.has(`edge:${e.id}`),
          onSelect,
        },
      }));
  }, [graph, layout, selection, related, onSelect]);

  useEffect(() => {
    if (fitSignal) void flow.fitView({ padding: 0.08, duration: 200 });
  }, [fitSignal, flow]);

  return (
    <div className="graph-canvas" role="region" aria-label={label} data-testid="graph-canvas">
      <ReactFlow<ServiceNode, CallEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        colorMode={theme}
        fitView
        fitViewOptions={{ padding: 0.08, maxZoom: 1.1 }}
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
        zoomOnDoubleClick={false}
      >
        <Controls showInteractive={false} position="bottom-left" />
        {graph.nodes.length > 12 ? (
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
