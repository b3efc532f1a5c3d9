// The runtime daemon: owns the meshes of one state root, serves the CLI's control API on a unix socket
// (mode 0660, never TCP), and on start removes whatever meshes a previous daemon left behind (it was
// killed: its state files are still there).
//
//   GET    /v1/daemon                         who is serving, which meshes
//   GET    /v1/meshes                         every mesh's status
//   PUT    /v1/meshes/<m>                     up: create, or apply a changed spec   {specPath, specText, isolation, wait, timeoutMs}
//   GET    /v1/meshes/<m>                     status (pods)
//   DELETE /v1/meshes/<m>                     down
//   POST   /v1/meshes/<m>/scale               {service, version?, replicas}
//   POST   /v1/meshes/<m>/traffic             {service, weights}
//   POST   /v1/meshes/<m>/fault               {service, fault, enabled}
//   POST   /v1/meshes/<m>/pods/<target>/<stop|start|restart>
//   GET    /v1/meshes/<m>/inspect?target=     GET /v1/meshes/<m>/stats?target=   GET /v1/meshes/<m>/top?target=
//   GET    /v1/events?mesh=<m>                text/event-stream of MeshEvent (events and app output)
import { chmod, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { formatSpecProblems, parseMeshSpec } from '@meshlet/wire';
import { ERROR_CODES, ERROR_STATUS, RuntimeError, isRuntimeError } from './errors.ts';
import { socketAlive } from './control-client.ts';
import { createMesh, teardownRecord, type Mesh, type MeshEnv, type MeshEvent } from './mesh.ts';
import { bundleDir, SIDECAR_UID } from './plan.ts';
import { needsRootError } from './preflight.ts';
import { samplePods, topOf } from './stats.ts';
import { listMeshDirs, readMeshRecord } from './state.ts';

export interface DaemonOptions {
  stateRoot: string;
  socketPath: string;
  env: Omit<MeshEnv, 'onEvent'>;
  /** Exit once the last mesh is down (a daemon that `up -d` started). */
  exitWhenIdle: boolean;
  /** Runtime can do netns isolation (root, tools present). */
  canNetns: boolean;
}

export interface Daemon {
  readonly socketPath: string;
  meshes(): Mesh[];
  /** In-process use (`up` in the foreground): the same operations the API offers. */
  up(body: UpBody): Promise<UpResult>;
  subscribe(fn: (e: MeshEvent) => void): () => void;
  /** Takes every mesh down and stops serving. */
  close(): Promise<string[]>;
  /** Resolves when the daemon has stopped (idle exit or close). */
  readonly done: Promise<void>;
}

export interface UpBody {
  specPath: string;
  specText: string;
  isolation: 'netns' | 'process';
  wait?: boolean;
  timeoutMs?: number;
}

export interface UpResult {
  mesh: string;
  created: boolean;
  settled: { ok: boolean; notReady: string[]; failed: string[] } | undefined;
  status: ReturnType<Mesh['status']>;
}

/**
 * The first directory on the way to `dir` (from `/` down) that other users cannot search (no `o+x`),
 * with its mode; `undefined` when every one can be passed. Root passes anything, a sidecar does not.
 */
export async function unsearchableAncestor(dir: string): Promise<{ dir: string; mode: number } | undefined> {
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const mode = (await stat(d)).mode & 0o7777;
    if ((mode & 0o001) === 0) return { dir: d, mode };
  }
  return undefined;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  await mkdir(o.stateRoot, { recursive: true, mode: 0o755 });
  // Sidecars (uid 1337) share a V8 compile cache here; sticky and world-writable like /tmp.
  const cache = join(o.stateRoot, 'compile-cache');
  await mkdir(cache, { recursive: true });
  await chmod(cache, 0o1777);
  // Only a root daemon runs sidecars as another user (netns isolation).
  const closed = process.getuid?.() === 0 ? await unsearchableAncestor(cache) : undefined;
  if (closed !== undefined) {
    o.env.log('warn', `sidecars of netns meshes (uid ${SIDECAR_UID}) cannot reach the compile cache ${cache}: ${closed.dir} has mode ${closed.mode.toString(8)} (no search permission for other users), so every sidecar compiles its code at each start (more CPU and memory); use a state directory whose parents are searchable (e.g. mode 755)`);
  }
  if (await socketAlive(o.socketPath)) {
    throw new RuntimeError(ERROR_CODES.conflict, `a meshlet daemon already serves ${o.socketPath}`, { hint: 'use it (meshlet ps), or stop it with meshlet down' });
  }
  await unlink(o.socketPath).catch(() => {});

  const listeners = new Set<(e: MeshEvent) => void>();
  const env: MeshEnv = { ...o.env, onEvent: (e) => listeners.forEach((fn) => fn(e)) };
  const meshes = new Map<string, Mesh>();
  const chains = new Map<string, Promise<unknown>>();
  /** Operations on one mesh run one at a time. */
  const serial = <T>(mesh: string, fn: () => Promise<T>): Promise<T> => {
    const run = (chains.get(mesh) ?? Promise.resolve()).then(fn, fn);
    chains.set(mesh, run.catch(() => {}));
    return run;
  };

  // Meshes a previous daemon left behind (it was killed): remove everything they recorded.
  for (const dir of await listMeshDirs(o.stateRoot)) {
    const record = await readMeshRecord(dir);
    if (record === undefined) continue;
    const problems = await teardownRecord(env, record, dir);
    env.log(problems.length === 0 ? 'info' : 'error', `removed leftovers of mesh ${record.mesh} (its daemon, pid ${record.daemonPid}, is gone)`, problems.length === 0 ? {} : { problems });
  }

  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  let closing = false;

  const meshOf = (name: string): Mesh => {
    const m = meshes.get(name);
    if (m === undefined) throw new RuntimeError(ERROR_CODES.notFound, `no mesh "${name}" is running${meshes.size === 0 ? '' : ` (running: ${[...meshes.keys()].join(', ')})`}`, { hint: 'start it with meshlet up' });
    return m;
  };

  const up = async (body: UpBody): Promise<UpResult> => {
    if (typeof body.specText !== 'string' || typeof body.specPath !== 'string') throw new RuntimeError(ERROR_CODES.badRequest, 'up needs specPath and specText');
    const parsed = parseMeshSpec(body.specText);
    if (!parsed.ok) {
      throw new RuntimeError(ERROR_CODES.spec, `${body.specPath} has ${parsed.problems.length} problem(s)`, { details: formatSpecProblems(parsed.problems, body.specPath).split('\n') });
    }
    const isolation = body.isolation === 'process' ? 'process' : 'netns';
    if (isolation === 'netns' && !o.canNetns) throw needsRootError('up');
    const spec = parsed.spec;
    const { mesh, created } = await serial(spec.name, async () => {
      const input = { spec, specPath: body.specPath, specText: body.specText, isolation } as const;
      let mesh = meshes.get(spec.name);
      const created = mesh === undefined;
      if (mesh === undefined) {
        for (const other of meshes.values()) {
          const s = other.status();
          if (s.network.bridge === spec.network.bridge && s.isolation === 'netns' && isolation === 'netns') {
            throw new RuntimeError(ERROR_CODES.nameInUse, `bridge ${spec.network.bridge} is used by mesh ${other.name}`, { hint: 'set network.bridge (and a separate subnet) in the spec' });
          }
        }
        mesh = await createMesh(env, input);
        meshes.set(spec.name, mesh);
      } else {
        await mesh.apply(input);
      }
      return { mesh, created };
    });
    // Outside the mesh's queue: a `down` (Ctrl-C) must not wait for pods to get ready.
    const settled = body.wait === false ? undefined : await mesh.waitSettled(body.timeoutMs ?? 120_000);
    return { mesh: spec.name, created, settled, status: mesh.status() };
  };

  const down = (name: string) =>
    serial(name, async () => {
      const mesh = meshOf(name);
      meshes.delete(name);
      const problems = await mesh.down();
      if (meshes.size === 0 && o.exitWhenIdle && !closing) setImmediate(() => void close());
      return { mesh: name, problems };
    });

  const inspect = (mesh: Mesh, target: string | undefined) => {
    const status = mesh.status();
    if (target === undefined) return { ...status, stateDir: join(o.stateRoot, mesh.name), runcRoot: mesh.runcRoot(), caCert: mesh.caCertPath() };
    return mesh.select(target).map((p) => {
      const s = p.status();
      const t = mesh.template(p.name);
      const dir = mesh.podDir(p.name);
      const config = mesh.config(p.name);
      return {
        ...s,
        mesh: mesh.name,
        isolation: status.isolation,
        dir,
        bundle: status.isolation === 'netns' ? bundleDir(dir) : undefined,
        runcRoot: status.isolation === 'netns' ? mesh.runcRoot() : undefined,
        container: status.isolation === 'netns' ? p.name : undefined,
        logs: { app: join(dir, 'logs', 'app.log'), sidecar: join(dir, 'logs', 'sidecar.log') },
        configUrl: `http://${status.network.bridgeIp}:15010/v1/pods/${p.name}/config`,
        configRevision: config?.revision,
        certificate: mesh.certificate(p.name),
        command: t?.command,
        workingDir: t?.workingDir,
        port: t?.port,
        resources: t?.resources,
        health: t?.health,
        restart: t?.restart,
        env: mesh.appEnv(p.name),
      };
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://meshlet');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const body = async (): Promise<Record<string, unknown>> => {
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > 4 * 1024 * 1024) throw new RuntimeError(ERROR_CODES.badRequest, 'request body over 4 MiB');
        chunks.push(chunk);
      }
      if (chunks.length === 0) return {};
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new RuntimeError(ERROR_CODES.badRequest, 'request body is not JSON');
      }
    };
    try {
      const [v1, kind, name, sub, target, action] = parts;
      if (v1 !== 'v1') throw new RuntimeError(ERROR_CODES.notFound, `no such path ${url.pathname}`);
      if (kind === 'daemon' && req.method === 'GET') return send(200, { pid: process.pid, stateRoot: o.stateRoot, socket: o.socketPath, meshes: [...meshes.keys()] });
      if (kind === 'events' && req.method === 'GET') {
        const only = url.searchParams.get('mesh');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(': connected\n\n');
        const fn = (e: MeshEvent) => {
          if (only === null || e.mesh === only) res.write(`data: ${JSON.stringify(e)}\n\n`);
        };
        listeners.add(fn);
        const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
        req.on('close', () => {
          clearInterval(ping);
          listeners.delete(fn);
        });
        return;
      }
      if (kind !== 'meshes') throw new RuntimeError(ERROR_CODES.notFound, `no such path ${url.pathname}`);
      if (name === undefined) {
        if (req.method === 'GET') return send(200, [...meshes.values()].map((m) => m.status()));
        throw new RuntimeError(ERROR_CODES.badRequest, `${req.method} ${url.pathname} is not supported`);
      }
      if (sub === undefined) {
        if (req.method === 'PUT') {
          const b = await body();
          const result = await up(b as unknown as UpBody);
          if (result.mesh !== name) throw new RuntimeError(ERROR_CODES.badRequest, `the spec names mesh "${result.mesh}", not "${name}"`);
          return send(result.created ? 201 : 200, result);
        }
        if (req.method === 'GET') return send(200, meshOf(name).status());
        if (req.method === 'DELETE') return send(200, await down(name));
      }
      const mesh = meshOf(name);
      const b = req.method === 'POST' ? await body() : {};
      const str = (key: string) => {
        const v = b[key];
        if (typeof v !== 'string' || v === '') throw new RuntimeError(ERROR_CODES.badRequest, `"${key}" must be a non-empty string`);
        return v;
      };
      const optionalTarget = url.searchParams.get('target') ?? undefined;
      switch (`${req.method} ${sub}`) {
        case 'POST scale':
          await serial(name, () => mesh.scale(str('service'), Number(b['replicas']), typeof b['version'] === 'string' ? b['version'] : undefined));
          return send(200, { mesh: name, status: mesh.status() });
        case 'POST traffic':
          mesh.traffic(str('service'), (b['weights'] ?? {}) as Record<string, number>);
          return send(200, { mesh: name });
        case 'POST fault':
          mesh.fault(str('service'), str('fault'), b['enabled'] === true);
          return send(200, { mesh: name });
        case 'POST pods': {
          if (target === undefined || (action !== 'stop' && action !== 'start' && action !== 'restart')) throw new RuntimeError(ERROR_CODES.badRequest, 'expected /pods/<target>/<stop|start|restart>');
          const podsDone = await mesh.podAction(target, action);
          return send(200, { mesh: name, pods: podsDone });
        }
        case 'GET inspect':
          return send(200, inspect(mesh, optionalTarget));
        case 'GET stats':
          return send(200, await samplePods(mesh.select(optionalTarget), Math.min(5_000, Number(url.searchParams.get('sampleMs') ?? 500))));
        case 'GET top':
          return send(200, await topOf(mesh.select(optionalTarget), o.env.cgroups));
        default:
          throw new RuntimeError(ERROR_CODES.notFound, `no such operation ${req.method} ${url.pathname}`);
      }
    } catch (err) {
      if (isRuntimeError(err)) return send(ERROR_STATUS[err.code], { error: err.toJSON() });
      env.log('error', `control API: ${(err as Error).stack ?? String(err)}`);
      return send(500, { error: { code: ERROR_CODES.exec, message: (err as Error).message } });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  server.requestTimeout = 0; // `up` waits for pods; `events` streams
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => resolve());
  });
  // Root only (and a `meshlet` group, where the admin made one): the socket is the keys to the host.
  await chmod(o.socketPath, 0o660);
  await writeFile(join(o.stateRoot, 'daemon.pid'), `${process.pid}\n`);

  const close = async (): Promise<string[]> => {
    if (closing) return [];
    closing = true;
    const problems: string[] = [];
    for (const name of [...meshes.keys()]) {
      const r = await down(name).catch((err: Error) => ({ problems: [err.message] }));
      problems.push(...r.problems);
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(o.socketPath).catch(() => {});
    await unlink(join(o.stateRoot, 'daemon.pid')).catch(() => {});
    resolveDone();
    return problems;
  };

  return {
    socketPath: o.socketPath,
    meshes: () => [...meshes.values()],
    up,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close,
    done,
  };
}
