// Shared by the runtime's integration tests: unique names per run, the `meshlet` CLI as a real
// subprocess, a small test app, and an inventory of everything a mesh can leave on the host.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlClient } from '../src/control-client.ts';
import type { MeshStatus } from '../src/mesh.ts';
import { meshNames, podNames } from '../src/names.ts';
import { freePort, waitFor } from '../../test/support.ts';
export { freePort, waitFor };

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const MESHLET = join(REPO_ROOT, 'bin', 'meshlet.js');

export const needsRoot = process.getuid?.() === 0 ? false : 'needs root: creates network namespaces, veth pairs, a bridge, iptables rules, cgroups and runc containers';

/** A run-unique network: bridge name, /24 subnet and VIP range that no route on this host overlaps. */
export function uniqueNetwork(): { id: string; bridge: string; subnet: string; vipRange: string; prefix: string } {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const id = randomBytes(3).toString('hex');
    const a = 100 + (randomBytes(1)[0] as number) % 100;
    const b = (randomBytes(1)[0] as number) % 250;
    const subnet = `10.${a}.${b}.0/24`;
    const vipRange = `10.${a}.${b + 1}.0/24`;
    if (routes.includes(`10.${a}.${b}.`) || routes.includes(`10.${a}.${b + 1}.`)) continue;
    return { id, bridge: `mlt${id}`, subnet, vipRange, prefix: `10.${a}.${b}` };
  }
}


export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `meshlet ...` as a subprocess with its own state root. */
export function meshlet(args: string[], o: { stateDir: string; cwd?: string; uid?: number; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MESHLET, ...args], {
      cwd: o.cwd ?? REPO_ROOT,
      env: { ...process.env, MESHLET_RUNTIME_STATE_DIR: o.stateDir, NO_COLOR: '1', ...o.env },
      ...(o.uid === undefined ? {} : { uid: o.uid, gid: o.uid }),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: o.timeoutMs ?? 180_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The test app: `node app.js` serves on $PORT (bound to $HOST): `/` echoes who answered and what it
 * received; `/healthz` fails while a file `broken-<service>` exists in its directory (deleted when the
 * app starts, so a restart heals it); `/call?url=` makes an outbound request (through $HTTP_PROXY when
 * set). `node app.js hog` allocates memory until the kernel kills it.
 */
export const APP_JS = `
const http = require('http');
const fs = require('fs');
const svc = process.env.MESHLET_SERVICE;
if (process.argv[2] === 'hog') {
  const keep = [];
  setTimeout(() => setInterval(() => keep.push(Buffer.alloc(16 << 20, 1)), 20), 1500);
} else {
  try { fs.unlinkSync('broken-' + svc); } catch {}
  function call(url) {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : undefined;
      const opts = proxy ? { host: proxy.hostname, port: proxy.port, path: url, headers: { host: u.host } } : { host: u.hostname, port: u.port, path: u.pathname + u.search };
      const req = http.get(opts, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b })); });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    });
  }
  http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/healthz') { res.statusCode = fs.existsSync('broken-' + svc) ? 500 : 200; return res.end(); }
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/call') {
      try { return res.end(JSON.stringify(await call(url.searchParams.get('url')))); }
      catch (e) { res.statusCode = 502; return res.end(JSON.stringify({ error: e.code || e.message })); }
    }
    res.end(JSON.stringify({ pod: process.env.MESHLET_POD, remote: req.socket.remoteAddress, headers: req.headers }));
  }).listen(Number(process.env.PORT), process.env.HOST || '0.0.0.0', () => console.log('listening on ' + process.env.PORT));
  process.on('SIGTERM', () => process.exit(0));
}
`;

export async function writeApp(dir: string): Promise<void> {
  await writeFile(join(dir, 'app.js'), APP_JS);
}


export interface Inventory {
  netns: string[];
  links: string[];
  iptables: string[];
  cgroups: string[];
  mounts: string[];
  processes: string[];
  files: string[];
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}

/** Everything of a mesh that can exist on the host: by name, by tag, by owner marker. */
export async function inventory(o: { stateDir: string; mesh: string; bridge: string; subnetPrefix: string; pods: string[] }): Promise<Inventory> {
  const names = meshNames(o.stateDir, o.mesh);
  const pods = o.pods.map((p) => podNames(names, o.mesh, p));
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`ml-${o.mesh}-`));
  const linkNames = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);
  const links = linkNames.filter((l) => l === o.bridge || pods.some((p) => p.veth === l));
  const iptables = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`ML-${names.tag}-`) || l.includes(o.bridge) || l.includes(`${o.subnetPrefix}.`));
  const cgroups: string[] = [];
  for (const ctrl of await readdir('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', ctrl, names.cgroup);
    if (await exists(dir)) cgroups.push(dir);
  }
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`/netns/ml-${o.mesh}-`) || l.includes(o.stateDir));
  const processes: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`MESHLET_RUNTIME_OWNER=${names.owner}`)) {
      processes.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').slice(0, 120)}`);
    }
  }
  const files: string[] = [];
  if (await exists(join(o.stateDir, o.mesh))) files.push(join(o.stateDir, o.mesh));
  for (const entry of await readdir('/etc/netns').catch(() => [] as string[])) if (entry.startsWith(`ml-${o.mesh}-`)) files.push(`/etc/netns/${entry}`);
  return { netns, links, iptables, cgroups, mounts, processes, files };
}

export const EMPTY_INVENTORY: Inventory = { netns: [], links: [], iptables: [], cgroups: [], mounts: [], processes: [], files: [] };

/** Best-effort cleanup for `t.after`: take the meshes of a state root down, then remove the root. */
export async function cleanup(stateDir: string, dirs: string[] = [], uid?: number): Promise<void> {
  await meshlet(['down'], { stateDir, timeoutMs: 120_000, ...(uid === undefined ? {} : { uid }) });
  const pid = await readFile(join(stateDir, 'daemon.pid'), 'utf8').catch(() => '');
  if (/^\d+/.test(pid)) {
    try {
      process.kill(Number(pid), 'SIGTERM');
    } catch {
      // gone
    }
  }
  for (const d of [stateDir, ...dirs]) await rm(d, { recursive: true, force: true });
}

/** Runs a command inside a pod's app container, via `meshlet exec`. */
export async function inPod(stateDir: string, mesh: string, pod: string, script: string): Promise<RunResult> {
  return meshlet(['exec', '--mesh', mesh, pod, '--', 'node', '-e', script], { stateDir });
}

export const fetchScript = (url: string) =>
  `require('http').get(${JSON.stringify(url)}, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => { console.log(JSON.stringify({ status: r.statusCode, body: b })); }); }).on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); });`;

/** A mesh's status straight from the daemon's socket (quicker than a `meshlet ps` process when polling). */
export async function meshStatus(stateDir: string, mesh: string): Promise<MeshStatus> {
  return createControlClient(join(stateDir, 'meshlet.sock')).call<MeshStatus>('GET', `/v1/meshes/${mesh}`);
}

export interface MeshFixture {
  net: ReturnType<typeof uniqueNetwork>;
  mesh: string;
  stateDir: string;
  appDir: string;
  hostPort: number;
  /** The `network:` line of a spec: bridge, subnet and VIP range of this run. */
  network: string;
  /** `meshlet ...` in the app directory with this run's state root (and user). */
  run: (args: string[], env?: Record<string, string>) => Promise<RunResult>;
}

/**
 * What every mesh test starts with: a unique network and mesh name, a state root and an app
 * directory with the test app, a free port to publish, and cleanup (down, daemon, directories)
 * registered at once so it runs even when the test fails.
 */
export async function meshFixture(t: { after(fn: () => Promise<void>): void }, prefix: string, o: { uid?: number; env?: Record<string, string> } = {}): Promise<MeshFixture> {
  const net = uniqueNetwork();
  const stateDir = await tempDir('meshlet-state-');
  const appDir = await tempDir('meshlet-app-');
  t.after(() => cleanup(stateDir, [appDir], o.uid));
  await writeApp(appDir);
  const run = (args: string[], env: Record<string, string> = {}) => meshlet(args, { stateDir, cwd: appDir, ...(o.uid === undefined ? {} : { uid: o.uid }), env: { ...o.env, ...env } });
  return { net, mesh: `${prefix}${net.id}`, stateDir, appDir, hostPort: await freePort(), network: `network: { bridge: ${net.bridge}, subnet: ${net.subnet}, vip_range: ${net.vipRange} }`, run };
}
