// The Mesh view: pods from the runtime's `meshlet.pod.status` snapshots of the last minute, plus recent
// runtime events.
import {
  type HealthStatus,
  HEALTH_STATUSES,
  INFRA_EVENTS,
  type MeshResponse,
  POD_ATTR,
  POD_STATES,
  type PodState,
  type PodView,
  RESOURCE,
} from '@meshlet/wire';
import { numberAttr, stringAttr } from '../otlp/model.ts';
import type { StoredLog, TraceReader } from '../store/store.ts';
import { logView } from './views.ts';

/** Pods not reported for this long are gone from the view. */
export const POD_TTL_MS = 60_000;
const RECENT_EVENTS_MS = 15 * 60_000;

function attr(l: StoredLog, key: string): string | undefined {
  return stringAttr(l.attributes, key) ?? stringAttr(l.resource.attributes, key);
}

export function buildMesh(reader: TraceReader, nowMs: number): MeshResponse {
  const snapshots = reader.logs({ eventName: INFRA_EVENTS.status, fromMs: nowMs - POD_TTL_MS, toMs: nowMs + 60_000, limit: 20_000 });
  const removed = reader.logs({ eventName: INFRA_EVENTS.removed, fromMs: nowMs - POD_TTL_MS, toMs: nowMs + 60_000, limit: 5_000 });
  const removedAt = new Map<string, number>();
  for (const l of removed) {
    const key = `${attr(l, RESOURCE.mesh) ?? ''}/${attr(l, RESOURCE.pod) ?? ''}`;
    removedAt.set(key, Math.max(removedAt.get(key) ?? 0, l.timeMs));
  }
  // Newest first: the first snapshot of a pod is its latest, the second gives the CPU rate.
  const latest = new Map<string, { last: StoredLog; previous?: StoredLog }>();
  for (const l of snapshots) {
    const key = `${attr(l, RESOURCE.mesh) ?? ''}/${attr(l, RESOURCE.pod) ?? ''}`;
    const seen = latest.get(key);
    if (seen === undefined) latest.set(key, { last: l });
    else if (seen.previous === undefined) seen.previous = l;
  }
  const pods: PodView[] = [];
  for (const [key, { last, previous }] of latest) {
    if ((removedAt.get(key) ?? -1) >= last.timeMs) continue;
    const state = stringAttr(last.attributes, POD_ATTR.state);
    const health = stringAttr(last.attributes, POD_ATTR.healthStatus);
    const pod: PodView = {
      mesh: attr(last, RESOURCE.mesh) ?? '',
      pod: attr(last, RESOURCE.pod) ?? '',
      service: attr(last, RESOURCE.serviceName) ?? 'unknown_service',
      state: (POD_STATES as readonly string[]).includes(state ?? '') ? (state as PodState) : 'running',
      health: (HEALTH_STATUSES as readonly string[]).includes(health ?? '') ? (health as HealthStatus) : 'none',
      restarts: numberAttr(last.attributes, POD_ATTR.restarts) ?? 0,
      lastReportMs: last.timeMs,
    };
    const version = attr(last, RESOURCE.serviceVersion);
    if (version !== undefined) pod.version = version;
    const ip = attr(last, RESOURCE.podIp);
    if (ip !== undefined) pod.ip = ip;
    const netns = stringAttr(last.attributes, POD_ATTR.netns);
    if (netns !== undefined) pod.netns = netns;
    const veth = stringAttr(last.attributes, POD_ATTR.veth);
    if (veth !== undefined) pod.veth = veth;
    const cpu = numberAttr(last.attributes, POD_ATTR.cpuSeconds);
    if (cpu !== undefined) {
      pod.cpuSeconds = cpu;
      const before = previous === undefined ? undefined : numberAttr(previous.attributes, POD_ATTR.cpuSeconds);
      if (previous !== undefined && before !== undefined && last.timeMs > previous.timeMs && cpu >= before) {
        pod.cpuCores = Math.round(((cpu - before) / ((last.timeMs - previous.timeMs) / 1000)) * 1000) / 1000;
      }
    }
    const memory = numberAttr(last.attributes, POD_ATTR.memoryBytes);
    if (memory !== undefined) pod.memoryBytes = memory;
    const limit = numberAttr(last.attributes, POD_ATTR.memoryLimitBytes);
    if (limit !== undefined) pod.memoryLimitBytes = limit;
    const started = numberAttr(last.attributes, POD_ATTR.startedAtMs);
    if (started !== undefined) pod.startedAtMs = started;
    pods.push(pod);
  }
  pods.sort((a, b) => a.mesh.localeCompare(b.mesh) || a.service.localeCompare(b.service) || a.pod.localeCompare(b.pod));
  const events = reader
    .logs({ fromMs: nowMs - RECENT_EVENTS_MS, toMs: nowMs + 60_000, eventsOnly: true, excludeEvents: [INFRA_EVENTS.status], limit: 200 })
    .map(logView);
  return { pods, events };
}

/** Pods per service in a mesh view (for graph nodes). */
export function podsByService(mesh: MeshResponse): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of mesh.pods) out.set(p.service, (out.get(p.service) ?? 0) + 1);
  return out;
}
