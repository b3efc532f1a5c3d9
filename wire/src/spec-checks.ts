// Checks across fields of a mesh spec (references, cycles, clashes) and the one entry point that
// validates a spec. They read the raw document defensively, so they run even when other fields are
// malformed: a user fixing a file sees every problem at once, not one layer per attempt.
import type { z } from 'zod';
import { meshSpecSchema, publishSchema, type MeshSpec } from './spec.ts';

/** A problem found in a spec, at a path of keys/indices into the document. */
export interface SpecIssue {
  path: PropertyKey[];
  message: string;
}

type Raw = Record<string, unknown>;

const isRecord = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What a service depends on, from the list or the map form of `depends_on`, with the key to report at. */
function dependencies(svc: Raw): { name: string; condition: unknown; at: PropertyKey }[] {
  const deps = svc['depends_on'];
  if (Array.isArray(deps)) {
    return deps.flatMap((d, i) => (typeof d === 'string' ? [{ name: d, condition: 'started', at: i }] : []));
  }
  if (isRecord(deps)) return Object.entries(deps).map(([d, v]) => ({ name: d, condition: isRecord(v) ? v['condition'] : undefined, at: d }));
  return [];
}

/**
 * Cross-field problems of a raw (unparsed) spec document. Shapes that are wrong are skipped here:
 * the schema reports them.
 */
export function crossCheckMeshSpec(raw: unknown): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (!isRecord(raw) || !isRecord(raw['services'])) return issues;
  const services = raw['services'];
  const names = Object.keys(services);
  const hostPorts = new Map<number, string>();
  for (const [name, value] of Object.entries(services)) {
    if (!isRecord(value)) continue;
    const at = (...rest: PropertyKey[]) => ['services', name, ...rest];
    const versions = isRecord(value['versions']) ? value['versions'] : {};
    const versionNames = Object.keys(versions);
    const runnable = (v: unknown) => isRecord(v) && (v['image'] !== undefined || v['command'] !== undefined);

    if (value['image'] !== undefined && value['command'] !== undefined) {
      issues.push({ path: at('command'), message: 'set either image or command, not both' });
    }
    if (!runnable(value) && (versionNames.length === 0 || !Object.values(versions).every(runnable))) {
      issues.push({ path: at(), message: 'a service needs an image or a command (on the service or on every version)' });
    }

    const checkWeights = (weights: unknown, path: PropertyKey[]) => {
      if (!isRecord(weights)) return;
      for (const key of Object.keys(weights)) {
        if (!versionNames.includes(key)) {
          issues.push({ path: [...path, key], message: `no version "${key}" in versions (${versionNames.join(', ') || 'none defined'})` });
        }
      }
      const values = Object.values(weights);
      if (values.length > 0 && values.every((n) => n === 0)) issues.push({ path, message: 'traffic weights must not all be 0' });
    };
    checkWeights(value['traffic'], at('traffic'));
    if (Array.isArray(value['routes'])) {
      value['routes'].forEach((route, i) => {
        if (isRecord(route)) checkWeights(route['traffic'], at('routes', i, 'traffic'));
      });
    }

    for (const dep of dependencies(value)) {
      if (!names.includes(dep.name)) {
        issues.push({ path: at('depends_on', dep.at), message: `depends on unknown service "${dep.name}" (services: ${names.join(', ')})` });
      } else if (dep.name === name) {
        issues.push({ path: at('depends_on', dep.at), message: 'a service cannot depend on itself' });
      } else if (dep.condition === 'healthy' && !isRecord((services[dep.name] as Raw | undefined)?.['health'])) {
        issues.push({ path: at('depends_on', dep.at), message: `condition "healthy" needs a health check on "${dep.name}"` });
      }
    }

    if (value['protocol'] === 'h2c') {
      if (value['port'] === undefined) issues.push({ path: at('protocol'), message: 'protocol h2c needs the service to have a port' });
      const h = value['health'];
      if (isRecord(h) && h['http'] !== undefined) {
        issues.push({ path: at('health', 'http'), message: 'health.http probes the app with HTTP/1.1, which an h2c app (e.g. a gRPC server) does not answer: use health.command' });
      }
    }

    if (Array.isArray(value['publish'])) {
      if (value['publish'].length > 0 && value['port'] === undefined) {
        issues.push({ path: at('publish'), message: 'publish needs the service to have a port' });
      }
      value['publish'].forEach((entry, i) => {
        const parsed = publishSchema.safeParse(entry);
        if (!parsed.success) return;
        const owner = hostPorts.get(parsed.data.hostPort);
        if (owner !== undefined) {
          issues.push({ path: at('publish', i), message: `host port ${parsed.data.hostPort} is already published by ${owner}` });
        }
        hostPorts.set(parsed.data.hostPort, `services.${name}`);
      });
    }

    const policy = value['policy'];
    if (isRecord(policy)) {
      for (const list of ['allow', 'deny'] as const) {
        const callers = policy[list];
        if (!Array.isArray(callers)) continue;
        callers.forEach((caller, i) => {
          if (typeof caller === 'string' && !names.includes(caller)) {
            issues.push({ path: at('policy', list, i), message: `policy names unknown service "${caller}"` });
          }
        });
      }
    }
  }
  const graph = Object.fromEntries(names.map((n) => [n, isRecord(services[n]) ? dependencies(services[n]).map((d) => d.name) : []]));
  const cycle = findCycle(graph);
  if (cycle !== undefined) {
    issues.push({ path: ['services', cycle[0] as string, 'depends_on'], message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  return issues;
}

/** The result of validating a spec document. */
export type SpecValidation = { ok: true; spec: MeshSpec } | { ok: false; issues: SpecIssue[] };

/**
 * Validates a raw spec document (already parsed from YAML or JSON): schema plus cross-field checks,
 * every problem listed. `describe` turns zod's raw issues into the user's terms.
 */
export function validateMeshSpec(raw: unknown, describe?: (issue: z.core.$ZodRawIssue) => string | undefined): SpecValidation {
  const result = meshSpecSchema.safeParse(raw, { error: describe, reportInput: true });
  const cross = crossCheckMeshSpec(raw);
  if (result.success && cross.length === 0) return { ok: true, spec: result.data };
  const issues: SpecIssue[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) issues.push({ path: [...issue.path, key], message: `unknown field "${key}"` });
      } else {
        issues.push({ path: issue.path, message: issue.message });
      }
    }
  }
  issues.push(...cross);
  return { ok: false, issues };
}

function findCycle(graph: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph[node] ?? []) {
      if (graph[next] === undefined) continue;
      const found = visit(next);
      if (found !== undefined) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of Object.keys(graph).sort()) {
    const found = visit(node);
    if (found !== undefined) return found;
  }
  return undefined;
}
