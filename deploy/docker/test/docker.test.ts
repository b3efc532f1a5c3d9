// The Dockerfiles and the compose file, without a Docker engine: what can be checked for real is.
// - Every file a Dockerfile COPYs from the build context exists (.dockerignore applied); every --from
//   names an earlier stage; every workspace manifest is there for `npm ci`.
// - The final stage's files are laid out in a temp dir as the image would hold them (context files
//   copied, the deps stage's node_modules taken from this checkout), and the image's ENTRYPOINT + CMD
//   is run from there with Node 24 — ports made 0 — and must start and answer.
// - compose.yaml parses, builds these Dockerfiles, publishes DESIGN.md's ports, mounts files that exist
//   and gives Grafana the variables its provisioning expects; its Prometheus config passes promtool.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { COLLECTOR_HTTP_PORT, COLLECTOR_OTLP_PORT, SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT } from '@meshlet/wire';
import { DEPLOY, http, REPO_ROOT, start, tempDir, waitFor } from '../../test/helpers.ts';

const run = promisify(execFile);
const dockerDir = join(DEPLOY, 'docker');
const IMAGE_ROOT = '/opt/meshlet';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

/** A small Dockerfile reader: comments, `\` continuations, stages. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i] as string;
      if (/^\s*#/.test(next)) continue;
      line = `${line.slice(0, -1)} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(m !== null, `line ${start}: ${line}`);
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from !== null, `line ${start}: FROM ${args}`);
      stages.push({ image: from[1] as string, name: from[2] ?? null, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `line ${start}: ${op} before FROM`);
      (stages.at(-1) as Stage).instructions.push({ op, args, line: start });
    }
  }
  return stages;
}

function copyOf(args: string): { from: string | null; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length) ?? null;
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1) as string };
}

function execForm(stage: Stage, op: string): string[] {
  const i = stage.instructions.filter((x) => x.op === op).at(-1);
  assert.ok(i !== undefined, `${op} missing`);
  const parsed = JSON.parse(i.args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `${op} in exec (JSON) form`);
  return parsed;
}

async function ignorePatterns(dockerfile: string): Promise<string[]> {
  const text = await readFile(join(dockerDir, `${dockerfile}.dockerignore`), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

const ignored = (patterns: string[], path: string) => patterns.some((p) => matchesGlob(path, p) || matchesGlob(path, `${p}/**`));

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Lays out the final stage's files as the image would have them: context COPYs from this checkout with
 * .dockerignore applied, --from=<stage> COPYs from this checkout's matching paths (its node_modules is
 * what the deps stage installs, and more). Returns the directory that stands for WORKDIR.
 */
async function imageTree(t: TestContext, dockerfile: string, stages: Stage[]): Promise<string> {
  const root = join(await tempDir(t, `meshlet-image-${dockerfile.split('.')[0]}-`), 'opt', 'meshlet');
  await mkdir(root, { recursive: true });
  const patterns = await ignorePatterns(dockerfile);
  const final = stages.at(-1) as Stage;
  const workdir = final.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args;
  assert.equal(workdir, IMAGE_ROOT);
  for (const i of final.instructions.filter((x) => x.op === 'COPY')) {
    const { from, sources, dest } = copyOf(i.args);
    for (const source of sources) {
      const target = join(root, dest.endsWith('/') || dest === './' ? join(dest, source.split('/').at(-1) as string) : dest);
      await mkdir(dirname(target), { recursive: true });
      const src = from === null ? join(REPO_ROOT, source) : join(REPO_ROOT, relative(IMAGE_ROOT, source));
      if (from !== null && !(await exists(src))) {
        // A build output this checkout does not have (ui/dist before `npm run build`), or a workspace
        // without nested node_modules: the image's stage creates it, an empty directory stands in.
        await mkdir(target, { recursive: true });
        continue;
      }
      if (source.endsWith('node_modules')) {
        // Hard links: 300 MB of dependencies in a second (copied instead across file systems).
        await run('cp', ['-al', src, target]).catch(() => run('cp', ['-a', src, target]));
        continue;
      }
      await cp(src, target, { recursive: true, filter: (s) => from !== null || !ignored(patterns, relative(REPO_ROOT, s)) });
    }
  }
  return root;
}

/** ENTRYPOINT + CMD with `node` → this Node 24, image paths → the tree, listeners on port 0. */
function commandLine(stage: Stage, root: string, dataDir: string): string[] {
  const argv = [...execForm(stage, 'ENTRYPOINT'), ...execForm(stage, 'CMD')];
  assert.equal(argv[0], 'node');
  return [
    process.execPath,
    ...argv.slice(1).map((a) => {
      if (a.startsWith(`${IMAGE_ROOT}/`)) return join(root, relative(IMAGE_ROOT, a));
      if (/^(0\.0\.0\.0|127\.0\.0\.1):\d+$/.test(a)) return '127.0.0.1:0';
      if (a === '/var/lib/meshlet') return dataDir;
      return a;
    }),
  ];
}

for (const dockerfile of ['sidecar.Dockerfile', 'collector.Dockerfile']) {
  test(`${dockerfile}: stages, COPY sources, workspace manifests, base image, ports`, async () => {
    const stages = parseDockerfile(await readFile(join(dockerDir, dockerfile), 'utf8'));
    const patterns = await ignorePatterns(dockerfile);
    const names = new Set<string>();
    for (const stage of stages) {
      if (!names.has(stage.image)) assert.match(stage.image, /^node:24(-|$)/, 'Node 24, as DESIGN.md says');
      for (const i of stage.instructions.filter((x) => x.op === 'COPY')) {
        const { from, sources } = copyOf(i.args);
        if (from !== null) {
          assert.ok(names.has(from), `line ${i.line}: --from=${from} is an earlier stage`);
          continue;
        }
        for (const source of sources) {
          assert.ok(await exists(join(REPO_ROOT, source)), `line ${i.line}: ${source} exists in the build context`);
          assert.ok(!ignored(patterns, source), `line ${i.line}: ${source} is not excluded by .dockerignore`);
        }
      }
      if (stage.name !== null) names.add(stage.name);
    }
    // npm ci with workspaces needs every workspace's package.json next to the lockfile.
    const rootPkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const deps = stages.find((s) => s.name === 'deps') as Stage;
    const copied = deps.instructions.filter((i) => i.op === 'COPY').flatMap((i) => copyOf(i.args).sources);
    for (const ws of rootPkg.workspaces) assert.ok(copied.includes(`${ws}/package.json`), `deps stage copies ${ws}/package.json`);
    assert.ok(copied.includes('package-lock.json'));
    // Workspaces the image runs get their nested node_modules too (versions that differ from the root's).
    const final = stages.at(-1) as Stage;
    const finalCopies = final.instructions.filter((i) => i.op === 'COPY').map((i) => copyOf(i.args));
    for (const c of finalCopies.filter((x) => x.from === null && rootPkg.workspaces.includes(x.sources[0] as string))) {
      assert.ok(finalCopies.some((x) => x.from === 'deps' && x.dest === `${c.dest}/node_modules`), `${c.dest}/node_modules copied from deps`);
    }
    const expose = final.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
    const ports = dockerfile.startsWith('sidecar') ? [SIDECAR_ADMIN_PORT, SIDECAR_OUTBOUND_PORT, SIDECAR_INBOUND_PORT] : [COLLECTOR_OTLP_PORT, COLLECTOR_HTTP_PORT];
    assert.deepEqual(expose.sort(), ports.sort());
    assert.ok(final.instructions.some((i) => i.op === 'USER' && !/^0(:|$)|^root/.test(i.args)), 'runs as a non-root user');
  });
}

test('sidecar image: ENTRYPOINT + CMD from the image layout start a sidecar that serves the app', { timeout: 120_000 }, async (t) => {
  const stages = parseDockerfile(await readFile(join(dockerDir, 'sidecar.Dockerfile'), 'utf8'));
  const root = await imageTree(t, 'sidecar.Dockerfile', stages);
  assert.ok(!(await exists(join(root, 'proxy', 'test'))), '.dockerignore kept the tests out');
  const app = createServer((req, res) => res.writeHead(200).end(`app saw ${req.url}`));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => app.close(r)));
  // The environment compose.yaml gives the sidecar, with the test's app and no collector.
  const compose = parse(await readFile(join(dockerDir, 'compose.yaml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
  const env = { ...compose.services['app-sidecar']?.environment, MESHLET_PROXY_APP: `127.0.0.1:${(app.address() as AddressInfo).port}`, MESHLET_PROXY_COLLECTOR: 'none' };
  const p = await start(t, commandLine(stages.at(-1) as Stage, root, ''), { env, cwd: '/', waitForListening: true });
  await waitFor('ready', async () => ((await fetch(`http://${p.listening.admin}/ready`)).status === 200 ? true : undefined));
  const [host, port] = (p.listening.inbound as string).split(':') as [string, string];
  const r = await http({ host, port: Number(port), path: '/x', headers: { host: 'web' } });
  assert.equal(r.body, 'app saw /x');
  assert.match(await (await fetch(`http://${p.listening.admin}/metrics`)).text(), /meshlet_requests_total\{direction="inbound"/);
});

test('collector image: ENTRYPOINT + CMD from the image layout start a collector that stores spans', { timeout: 120_000 }, async (t) => {
  const stages = parseDockerfile(await readFile(join(dockerDir, 'collector.Dockerfile'), 'utf8'));
  const root = await imageTree(t, 'collector.Dockerfile', stages);
  const data = await tempDir(t, 'meshlet-image-data-');
  const p = await start(t, commandLine(stages.at(-1) as Stage, root, data), { cwd: '/', waitForListening: true });
  const base = `http://${p.listening.http}`;
  const health = await fetch(`${base}/api/v1/health`);
  assert.equal(health.status, 200);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'GET /', kind: 2, startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 5_000_000n) };
  const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] }, scopeSpans: [{ spans: [span] }] }] };
  const exported = await fetch(`http://${p.listening.otlp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(exported.status, 200);
  const trace = await fetch(`${base}/api/traces/${span.traceId}`);
  assert.equal(trace.status, 200);
  assert.ok((await readdir(data)).length > 0, 'the store is in the --data directory');
});

test('compose.yaml: builds these Dockerfiles, publishes DESIGN.md\'s ports, mounts what exists, configures Grafana and Prometheus', async () => {
  type Service = {
    build?: { context: string; dockerfile: string };
    image?: string;
    ports?: string[];
    volumes?: string[];
    environment?: Record<string, string>;
    network_mode?: string;
    command?: string[];
  };
  const compose = parse(await readFile(join(dockerDir, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const s = compose.services;
  for (const [name, dockerfile] of [['collector', 'collector.Dockerfile'], ['app-sidecar', 'sidecar.Dockerfile']] as const) {
    const build = s[name]?.build;
    assert.ok(build !== undefined, `${name} is built`);
    assert.equal(join(dockerDir, build.context), REPO_ROOT, `${name}: the build context is the repository root`);
    assert.equal(join(REPO_ROOT, build.dockerfile), join(dockerDir, dockerfile));
  }
  const published = (svc: string) => (s[svc]?.ports ?? []).map((p) => Number(p.split(':').at(-1)));
  assert.deepEqual(published('collector').sort(), [COLLECTOR_OTLP_PORT, COLLECTOR_HTTP_PORT].sort());
  // The sidecar shares the app's network namespace: its ports are published on the app.
  assert.equal(s['app-sidecar']?.network_mode, 'service:app');
  assert.deepEqual(published('app').sort(), [SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT].sort());
  // A command that repeats the image's CMD must say the same thing.
  for (const [name, dockerfile] of [['collector', 'collector.Dockerfile'], ['app-sidecar', 'sidecar.Dockerfile']] as const) {
    const stages = parseDockerfile(await readFile(join(dockerDir, dockerfile), 'utf8'));
    if (s[name]?.command !== undefined) assert.deepEqual(s[name]?.command, execForm(stages.at(-1) as Stage, 'CMD'), name);
  }
  for (const [name, svc] of Object.entries(s)) {
    for (const v of svc.volumes ?? []) {
      const source = v.split(':')[0] as string;
      if (source.startsWith('.')) assert.ok(await exists(join(dockerDir, source)), `${name}: ${source} exists`);
      else assert.ok(source in compose.volumes, `${name}: volume ${source} is declared`);
    }
  }
  // Grafana gets every variable its provisioning files use.
  const provisioning = await readFile(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'meshlet.yaml'), 'utf8');
  const used = [...provisioning.matchAll(/(?<!\$)\$\{([A-Z_]+)\}/g)].map((m) => m[1] as string);
  assert.ok(used.length >= 2);
  for (const v of used) assert.ok(s.grafana?.environment?.[v] !== undefined, `grafana gets ${v}`);
  assert.equal(s.grafana?.environment?.MESHLET_COLLECTOR_URL, `http://collector:${COLLECTOR_HTTP_PORT}`);
  // Prometheus' config, as mounted, passes promtool (rule files included).
  const promConfig = (s.prometheus?.command ?? []).find((a) => a.startsWith('--config.file='))?.split('=')[1] as string;
  const mount = (s.prometheus?.volumes ?? []).map((v) => v.split(':')).find(([, target]) => promConfig.startsWith(`${target}/`));
  assert.ok(mount !== undefined, 'the config file is in a mounted directory');
  const local = join(dockerDir, mount[0] as string, relative(mount[1] as string, promConfig));
  const check = await run('promtool', ['check', 'config', local]);
  assert.match(check.stdout + check.stderr, /SUCCESS: 1 rule files found/);
  const promYaml = parse(await readFile(local, 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
  const targets = Object.fromEntries(promYaml.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((c) => c.targets)]));
  assert.deepEqual(targets, { 'meshlet-sidecars': [`app:${SIDECAR_ADMIN_PORT}`], 'meshlet-collector': [`collector:${COLLECTOR_HTTP_PORT}`] });
});
