// Prometheus file-based discovery for the sidecars of a mesh on this host: reads the pods from the
// collector's mesh view (GET /api/v1/mesh, fed by the runtime's pod snapshots) and writes one target
// group per pod — its sidecar admin endpoint `<pod ip>:15000`, labelled service/pod/mesh/version —
// to a JSON file that deploy/prometheus/prometheus.yml watches (file_sd_configs).
//
//   node deploy/prometheus/src/targets.ts [--collector http://127.0.0.1:16686] [--out FILE] [--every 15s]
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { COLLECTOR_HTTP_PORT, LOOPBACK, parseDurationMs, QUERY_API, SIDECAR_ADMIN_PORT, type MeshResponse, type PodState } from '@meshlet/wire';

/** One entry of a Prometheus `file_sd_configs` file. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Pods whose sidecar may answer: everything but the ones that are gone or not started yet. */
const SCRAPED_STATES: ReadonlySet<PodState> = new Set(['starting', 'running', 'unhealthy', 'restarting']);

/**
 * The sidecars of the pods in a mesh view, as file_sd target groups (sorted, so an unchanged mesh writes
 * an unchanged file).
 *
 * @example
 * sidecarTargets({ pods: [{ mesh: 'shop', pod: 'orders-1', service: 'orders', ip: '10.77.0.5', state: 'running', … }], events: [] })
 * // [{ targets: ['10.77.0.5:15000'], labels: { service: 'orders', pod: 'orders-1', mesh: 'shop' } }]
 */
export function sidecarTargets(mesh: MeshResponse, adminPort = SIDECAR_ADMIN_PORT): TargetGroup[] {
  return mesh.pods
    .filter((p) => p.ip !== undefined && SCRAPED_STATES.has(p.state))
    .map((p) => ({
      targets: [`${p.ip}:${adminPort}`],
      labels: { service: p.service, pod: p.pod, mesh: p.mesh, ...(p.version === undefined ? {} : { version: p.version }) },
    }))
    .sort((a, b) => (a.targets[0] as string).localeCompare(b.targets[0] as string));
}

/** Fetches the mesh view and writes the targets file atomically (Prometheus never reads half a file). */
export async function writeTargets(collectorUrl: string, outFile: string): Promise<TargetGroup[]> {
  const res = await fetch(new URL(QUERY_API.mesh, collectorUrl), { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${collectorUrl}${QUERY_API.mesh} answered ${res.status}`);
  const groups = sidecarTargets((await res.json()) as MeshResponse);
  const tmp = join(dirname(outFile), `.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(groups, null, 2)}\n`);
  await rename(tmp, outFile);
  return groups;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      collector: { type: 'string', default: `http://${LOOPBACK}:${COLLECTOR_HTTP_PORT}` },
      out: { type: 'string', default: join(import.meta.dirname, '..', 'targets', 'meshlet-sidecars.json') },
      every: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: node deploy/prometheus/src/targets.ts [--collector URL] [--out FILE] [--every DURATION]\n');
    return;
  }
  const everyMs = values.every === undefined ? undefined : parseDurationMs(values.every);
  if (values.every !== undefined && (everyMs === undefined || everyMs <= 0)) {
    process.stderr.write(`targets: --every: expected a duration such as 15s, got "${values.every}"\n`);
    process.exitCode = 2;
    return;
  }
  for (;;) {
    try {
      const groups = await writeTargets(values.collector, values.out);
      process.stderr.write(`targets: ${groups.length} sidecar(s) → ${values.out}\n`);
    } catch (err) {
      process.stderr.write(`targets: ${(err as Error).message}\n`);
      if (everyMs === undefined) process.exitCode = 1;
    }
    if (everyMs === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

if (import.meta.main) await main(process.argv.slice(2));
