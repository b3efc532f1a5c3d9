// Runs the shop's services as plain processes on 127.0.0.1 (port 0, no mesh), wired to each other
// by their `<NAME>_URL` variables, for tests that need no root.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const SHOP_DIR = join(import.meta.dirname, '..');

export interface RunningService {
  name: string;
  url: string;
  proc: ChildProcess;
  output: () => string;
}

/** Starts `services/<file>.js` with `env`; resolves once it logged the port it listens on. */
export async function startService(file: string, env: Record<string, string>): Promise<RunningService> {
  const proc = spawn(process.execPath, [join(SHOP_DIR, 'services', `${file}.js`)], {
    cwd: SHOP_DIR,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', PORT: '0', HOST: '127.0.0.1', MESHLET_SERVICE: file, SHOP_WORK_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout.on('data', (c: Buffer) => (text += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within 20 s:\n${text}`)), 20_000);
    const look = () => {
      const m = /"port":(\d+)/.exec(text);
      if (m !== null) {
        clearTimeout(timer);
        proc.stdout.off('data', look);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', look);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}:\n${text}`));
    });
  });
  return { name: env['MESHLET_SERVICE'] ?? file, url: `http://127.0.0.1:${port}`, proc, output: () => text };
}

export async function stopService(s: RunningService): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill('SIGTERM');
  await once(s.proc, 'exit');
}

export interface LocalShop {
  services: Record<string, RunningService>;
  url(service: string): string;
  close(): Promise<void>;
}

/**
 * The whole shop, dependencies first. `replace` points a dependency at another URL (a recorder);
 * `env` adds variables to one service.
 */
export async function startShop(o: { replace?: Record<string, string>; env?: Record<string, Record<string, string>> } = {}): Promise<LocalShop> {
  const services: Record<string, RunningService> = {};
  const urls: Record<string, string> = { ...o.replace };
  const envOf = (name: string, extra: Record<string, string> = {}) => ({
    ...Object.fromEntries(Object.entries(urls).map(([svc, url]) => [`${svc.toUpperCase()}_URL`, url])),
    MESHLET_SERVICE: name,
    ...extra,
    ...o.env?.[name],
  });
  const waves: [string, string, Record<string, string>?][][] = [
    [['pricing', 'pricing'], ['inventory', 'inventory'], ['payments', 'payments']],
    [['catalog', 'catalog', { MESHLET_SERVICE_VERSION: 'blue' }], ['recommendations', 'recommendations', { SHOP_PROPAGATE_CONTEXT: 'false' }], ['cart', 'cart']],
    [['gateway', 'gateway']],
  ];
  try {
    for (const wave of waves) {
      const started = await Promise.all(wave.filter(([name]) => o.replace?.[name] === undefined).map(([name, file, extra]) => startService(file, envOf(name, extra))));
      for (const s of started) {
        services[s.name] = s;
        urls[s.name] = s.url;
      }
    }
  } catch (err) {
    await Promise.all(Object.values(services).map(stopService));
    throw err;
  }
  return {
    services,
    url: (service) => urls[service] ?? assertNever(service),
    close: () => Promise.all(Object.values(services).map(stopService)).then(() => {}),
  };
}

function assertNever(service: string): never {
  throw new Error(`no service ${service}`);
}

export interface Recorder {
  url: string;
  requests: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

/** A stand-in for a dependency: records every request and answers with `answer(path)` as JSON. */
export async function startRecorder(answer: (method: string, path: string) => { status: number; body: unknown }): Promise<Recorder> {
  const requests: Recorder['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const a = answer(req.method ?? 'GET', req.url ?? '/');
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
