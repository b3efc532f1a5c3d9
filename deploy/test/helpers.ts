// Shared by deploy's integration tests: the `meshlet` CLI and Debian's Prometheus as real subprocesses
// (stopped by PID when the test ends), free loopback ports, temp dirs, small HTTP helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort, waitFor } from '../../test/support.ts';
export { freePort, waitFor };

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const MESHLET = join(REPO_ROOT, 'bin', 'meshlet.js');
export const DEPLOY = join(REPO_ROOT, 'deploy');

export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}


export interface Started {
  child: ChildProcess;
  /** The first JSON line on stderr with `"msg":"listening"`, when asked to wait for it. */
  listening: Record<string, string>;
  output(): string;
}

/**
 * Starts a process and registers its stop (SIGTERM, then SIGKILL after 5 s) with the test, by PID.
 * With `waitForListening`, resolves once the process logged meshlet's `{"msg":"listening",…}` line.
 */
export async function start(t: TestContext, argv: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; waitForListening?: boolean; timeoutMs?: number } = {}): Promise<Started> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { cwd: o.cwd ?? REPO_ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => stop(child));
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  if (o.waitForListening !== true) return { child, listening: {}, output: () => out };
  const listening = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: no "listening" line within ${o.timeoutMs ?? 60_000} ms:\n${out.slice(-2000)}`)), o.timeoutMs ?? 60_000);
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as Record<string, string>;
          clearTimeout(timer);
          child.stderr.off('data', onData);
          resolve(parsed);
          return;
        } catch {
          // not a whole line yet
        }
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited (${code ?? signal}) before listening:\n${out.slice(-2000)}`));
    });
  });
  return { child, listening, output: () => out };
}

/** Stops one process we started: SIGTERM, SIGKILL if it is still there after 5 s. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

/** The `meshlet` CLI on the Node running the tests (Node 24). */
export function meshletArgv(...args: string[]): string[] {
  return [process.execPath, MESHLET, ...args];
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request on loopback with exactly the headers given (Host included), no keep-alive. */
export function http(o: { host: string; port: number; path: string; method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: o.host, port: o.port, path: o.path, method: o.method ?? 'GET', headers: o.headers, setHost: o.headers?.host === undefined, agent: false, timeout: o.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${o.method ?? 'GET'} ${o.host}:${o.port}${o.path}`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

export function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

