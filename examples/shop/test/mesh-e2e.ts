// Helpers of the end-to-end scenarios: a test-only variant of the shop's mesh.yaml (own mesh name,
// bridge, subnets and ports), the meshlet CLI as a subprocess, the collector's query API, a bounded
// load loop, and a listing of everything on the host a mesh can leave behind.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { QUERY_API } from '@meshlet/wire';
import { REPO_ROOT, SHOP_DIR } from '../demo.ts';
import { freePort, waitFor } from '../../../test/support.ts';
export { freePort, waitFor };

export const MESHLET = join(REPO_ROOT, 'bin', 'meshlet.js');

export const needsRoot = process.getuid?.() === 0 ? false : 'needs root: brings up a real mesh (network namespaces, veth pairs, a bridge, iptables rules, cgroups, runc containers)';

export interface TestNetwork {
  id: string;
  mesh: string;
  bridge: string;
  subnet: string;
  vipRange: string;
  /** First three octets of the subnet and of the VIP range, e.g. `10.187.42`. */
  subnetPrefix: string;
  vipPrefix: string;
}

/** A run-unique mesh name, bridge and pair of /24s that no route on this host overlaps. */
export function uniqueNetwork(): TestNetwork {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const id = randomBytes(3).toString('hex');
    const a = 100 + ((randomBytes(1)[0] as number) % 100);
    const b = (randomBytes(1)[0] as number) % 250;
    if (routes.includes(`10.${a}.${b}.`) || routes.includes(`10.${a}.${b + 1}.`)) continue;
    return { id, mesh: `e2e${id}`, bridge: `mle${id}`, subnet: `10.${a}.${b}.0/24`, vipRange: `10.${a}.${b + 1}.0/24`, subnetPrefix: `10.${a}.${b}`, vipPrefix: `10.${a}.${b + 1}` };
  }
}


/**
 * Writes the shop's mesh.yaml with the test's network and ports into `dir`; the services keep running
 * from examples/shop (absolute working_dir), and the collector keeps its data in `dir`.
 */
export async function writeTestSpec(dir: string, net: TestNetwork, ports: { gateway: number; ui: number }): Promise<string> {
  const spec = parse(await readFile(join(SHOP_DIR, 'mesh.yaml'), 'utf8')) as {
    name: string;
    network: Record<string, string>;
    telemetry: Record<string, string>;
    services: Record<string, { working_dir?: string; publish?: string[] }>;
  };
  spec.name = net.mesh;
  spec.network = { bridge: net.bridge, subnet: net.subnet, vip_range: net.vipRange };
  spec.telemetry = { collector: 'auto', ui: `127.0.0.1:${ports.ui}` };
  for (const svc of Object.values(spec.services)) svc.working_dir = SHOP_DIR;
  (spec.services['gateway'] as { publish?: string[] }).publish = [`127.0.0.1:${ports.gateway}:8080`];
  const file = join(dir, 'mesh.yaml');
  await writeFile(file, stringify(spec));
  return file;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `meshlet <args>` as a subprocess against the test's state root. */
export function meshlet(args: string[], stateDir: string, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MESHLET, ...args, '--state-dir', stateDir], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** GET on the collector's query API. */
export async function api<T>(uiUrl: string, path: string): Promise<T> {
  const res = await fetch(`${uiUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export const paths = QUERY_API;


export interface Load {
  /** Resolves with the status of every request (0: no response) once the load has ended. */
  done: Promise<number[]>;
  stop(): void;
}

/**
 * Sends `ratePerSecond` requests to `url` for at most `durationMs` (bounded in count and time; each
 * request times out after 15 s). Requests overlap: a slow answer does not slow the rate.
 */
export function drive(url: string, o: { ratePerSecond: number; durationMs: number; method?: string; body?: unknown }): Load {
  const statuses: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const total = Math.ceil((o.ratePerSecond * o.durationMs) / 1000);
  const done = (async () => {
    const started = Date.now();
    for (let i = 0; i < total && !stopped; i++) {
      const due = started + (i * 1000) / o.ratePerSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const p = fetch(url, {
        method: o.method ?? 'GET',
        ...(o.body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(o.body) }),
        signal: AbortSignal.timeout(15_000),
      }).then(
        async (r) => {
          await r.arrayBuffer();
          statuses.push(r.status);
        },
        () => void statuses.push(0),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
    return statuses;
  })();
  return { done, stop: () => void (stopped = true) };
}

/** Everything on the host a mesh can leave behind, as sorted lines per kind. */
export interface HostListing {
  netns: string[];
  links: string[];
  routes: string[];
  iptables: string[];
  cgroups: string[];
  mounts: string[];
  processes: string[];
  files: string[];
}

async function walk(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth < 0) return;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    out.push(join(dir, e.name));
    await walk(join(dir, e.name), depth - 1, out);
  }
}

export async function hostListing(extraDirs: string[] = []): Promise<HostListing> {
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
  const netns = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
  const links = (JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all']).split('\n').filter(Boolean);
  // Chain counters change all the time; rules and chain names are what matters.
  const iptables = sh('iptables-save', []).split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, ''));
  const cgroups: string[] = [];
  for (const ctrl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) await walk(join('/sys/fs/cgroup', ctrl, 'meshlet'), 3, cgroups);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean).map((l) => l.split(' ')[4] ?? '');
  const processes: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    const owner = (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')).split('\0').find((v) => v.startsWith('MESHLET_RUNTIME_OWNER=')) ?? '';
    if (cmdline !== '') processes.push(`${pid} ${owner} ${cmdline.slice(0, 300)}`);
  }
  const files = [...(await readdir('/etc/netns').catch(() => [] as string[])).map((f) => `/etc/netns/${f}`)];
  for (const d of extraDirs) for (const f of await readdir(d).catch(() => [] as string[])) files.push(join(d, f));
  const sorted = (a: string[]) => [...new Set(a)].sort();
  return { netns: sorted(netns), links: sorted(links), routes: sorted(routes), iptables: sorted(iptables), cgroups: sorted(cgroups), mounts: sorted(mounts), processes: sorted(processes), files: sorted(files) };
}

/** What `after` has that `before` had not, per kind, keeping only lines `ours` recognises. */
export function added(before: HostListing, after: HostListing, ours: (kind: keyof HostListing, line: string) => boolean): Partial<HostListing> {
  const out: Partial<HostListing> = {};
  for (const kind of Object.keys(after) as (keyof HostListing)[]) {
    const had = new Set(before[kind]);
    const lines = after[kind].filter((l) => !had.has(l) && ours(kind, l));
    if (lines.length > 0) out[kind] = lines;
  }
  return out;
}
