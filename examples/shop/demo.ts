// `npm run demo` (scripts/demo.sh → this file): builds the UI if it is missing, brings the demo shop up
// in the background (`meshlet up -d`: runtime, collector + UI, the shop's pods, the shopper's load),
// waits until the collector's graph shows traffic, prints where to look and how to stop, and returns.
// The mesh keeps running until `npx meshlet down`.
//
//   node examples/shop/demo.ts [-f SPEC] [--state-dir DIR] [--no-build] [--timeout 180s]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationMs, parseMeshSpec, QUERY_API, type GraphResponse, type MeshSpec } from '@meshlet/wire';

export const SHOP_DIR = import.meta.dirname;
export const REPO_ROOT = resolve(SHOP_DIR, '..', '..');
const MESHLET = join(REPO_ROOT, 'bin', 'meshlet.js');

export interface DemoOptions {
  /** The mesh spec (default examples/shop/mesh.yaml). */
  specFile: string;
  /** The runtime's state root (default: the runtime's own default). */
  stateDir?: string;
  /** Build the UI when ui/dist is missing (default true). */
  build: boolean;
  /** Whole run, from start to a graph with traffic. */
  timeoutMs: number;
  /** Progress and the final summary. */
  say: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  /** Why not, when `ok` is false. */
  problem?: string;
  uiUrl: string;
  gatewayUrl: string | undefined;
  /** From start to the mesh being ready, and to a graph with traffic. */
  upMs: number;
  trafficMs: number;
}

interface Exit {
  code: number | null;
  output: string;
}

function run(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; echo?: (chunk: string) => void; timeoutMs: number }): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: o.cwd ?? REPO_ROOT, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs });
    let output = '';
    const take = (c: Buffer) => {
      output += c.toString();
      o.echo?.(c.toString());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => resolve({ code: 127, output: `${output}${err.message}\n` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** The graph has traffic once the gateway has answered and called on: catalog and cart edges carry requests. */
export function graphHasTraffic(graph: GraphResponse): boolean {
  const edge = (from: string, to: string) => graph.edges.find((e) => e.from === from && e.to === to);
  return (edge('gateway', 'catalog')?.requests ?? 0) > 0 && (edge('gateway', 'cart')?.requests ?? 0) > 0;
}

async function readGraph(uiUrl: string): Promise<GraphResponse | undefined> {
  try {
    const res = await fetch(`${uiUrl}${QUERY_API.graph}?lookbackMs=120000`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? ((await res.json()) as GraphResponse) : undefined;
  } catch {
    return undefined;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** Brings the demo up; never throws for expected failures (they come back as `ok: false` with the reason). */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  const parsed = parseMeshSpec(await readFile(o.specFile, 'utf8'));
  if (!parsed.ok) throw new Error(`${o.specFile}: ${parsed.problems.map((p) => p.message).join('; ')}`);
  const spec: MeshSpec = parsed.spec;
  const uiUrl = `http://${spec.telemetry.ui}`;
  const published = spec.services['gateway']?.publish[0];
  const gatewayUrl = published === undefined ? undefined : `http://${published.hostIp === '0.0.0.0' ? '127.0.0.1' : published.hostIp}:${published.hostPort}`;
  const result = (fields: Partial<DemoResult>): DemoResult => ({ ok: false, uiUrl, gatewayUrl, upMs: 0, trafficMs: 0, ...fields });
  const stateArgs = o.stateDir === undefined ? [] : ['--state-dir', o.stateDir];

  // The UI builds while the mesh comes up: the collector serves ui/dist as soon as it exists.
  let build: Promise<Exit> | undefined;
  const buildLog = join(tmpdir(), 'meshlet-demo-ui-build.log');
  if (o.build && !existsSync(join(REPO_ROOT, 'ui', 'dist', 'index.html'))) {
    o.say('demo: building the UI (ui/dist) in the background');
    build = run(process.execPath, ['build.ts'], { cwd: join(REPO_ROOT, 'ui'), timeoutMs: Math.max(1, deadline - Date.now()) }); // = npm run build -w ui
  }

  const pods = Object.values(spec.services).reduce((n, s) => n + (s.versions === undefined ? s.replicas : Object.values(s.versions).reduce((m, v) => m + (v.replicas ?? s.replicas), 0)), 0);
  o.say(`demo: bringing up mesh ${spec.name} from ${shown(o.specFile)}: ${Object.keys(spec.services).length} services, ${pods} pods, each with its sidecar`);
  const up = await run(process.execPath, [MESHLET, 'up', '-d', '-f', o.specFile, '--timeout', `${Math.max(10, Math.round((deadline - Date.now()) / 1000))}s`, ...stateArgs], {
    env: { ...process.env, NO_COLOR: process.env['NO_COLOR'] ?? (process.stdout.isTTY ? undefined : '1') },
    echo: (chunk) => process.stderr.write(chunk),
    timeoutMs: Math.max(1, deadline - Date.now()) + 10_000,
  });
  const upMs = Date.now() - started;
  if (up.code !== 0) {
    return result({ upMs, problem: `meshlet up failed (exit ${up.code}); see its output above, \`npx meshlet logs POD\`, and \`npx meshlet down\` to remove what it left` });
  }
  o.say(`demo: mesh ${spec.name} is ready after ${seconds(upMs)}; waiting for the shopper's traffic in the collector`);

  if (build !== undefined) {
    const b = await build;
    if (b.code !== 0) o.say(`demo: the UI did not build (exit ${b.code}); the API still answers. Build output:\n${b.output.split('\n').slice(-15).join('\n')}\n(also in ${buildLog})`);
  }

  for (;;) {
    const graph = await readGraph(uiUrl);
    if (graph !== undefined && graphHasTraffic(graph)) break;
    if (Date.now() > deadline) {
      return result({ upMs, problem: `no traffic in the collector's graph (${uiUrl}) within ${seconds(o.timeoutMs)}; see \`npx meshlet logs shopper\` and \`npx meshlet logs gateway\`` });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return result({ ok: true, upMs, trafficMs: Date.now() - started });
}

/** A path as the user would type it from here: relative below the working directory, else absolute. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r === '' || r.startsWith('..') ? path : r;
}

function summary(r: DemoResult, spec: string): string {
  const f = shown(spec);
  const fileFlag = f === 'examples/shop/mesh.yaml' || f === 'mesh.yaml' ? '' : ` -f ${f}`;
  return `
meshlet demo: the shop is up and serving traffic (${seconds(r.trafficMs)} from start to a graph with traffic).

  UI        ${r.uiUrl}    graph, failures, traces, mesh, load tests
${r.gatewayUrl === undefined ? '' : `  shop API  ${r.gatewayUrl}/api/products\n`}  load      the shopper pod runs meshlet bench with examples/shop/load.json (8 req/s for 30 min)

Try it:
  npx meshlet fault payments abort on             payments fails half of its charges; the UI names it the origin
  npx meshlet fault pricing slow on               pricing takes 5 s, beyond its callers' 2 s timeout
  npx meshlet traffic catalog blue=50 green=50    shift the catalog to its green version (blue=0 green=100 to finish)
  npx meshlet ps          npx meshlet logs -f cart          npx meshlet stats

The mesh runs in the background. Stop it and remove everything it created:
  npx meshlet down${fileFlag}
`;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f' },
      'state-dir': { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '180s' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run demo [-- -f SPEC] [--state-dir DIR] [--no-build] [--timeout 180s]\n\nBrings up the demo shop (examples/shop/mesh.yaml) with the runtime, collector, UI and load, waits for traffic, and returns; `npx meshlet down` stops it.\n');
    return;
  }
  const timeoutMs = parseDurationMs(values.timeout);
  if (timeoutMs === undefined) {
    process.stderr.write(`demo: --timeout expects a duration such as 180s, got "${values.timeout}"\n`);
    process.exitCode = 2;
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo: needs root (it creates network namespaces, veth pairs, a bridge, iptables rules, cgroups and runc containers): sudo npm run demo\n');
    process.exitCode = 1;
    return;
  }
  const specFile = resolve(values.file ?? join(SHOP_DIR, 'mesh.yaml'));
  const r = await runDemo({ specFile, ...(values['state-dir'] === undefined ? {} : { stateDir: resolve(values['state-dir']) }), build: !values['no-build'], timeoutMs, say: (line) => process.stderr.write(`${line}\n`) });
  if (!r.ok) {
    process.stderr.write(`demo: ${r.problem ?? 'failed'}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(summary(r, specFile));
}

if (import.meta.main) await main(process.argv.slice(2));
