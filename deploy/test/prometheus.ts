// Debian's Prometheus as a test subprocess: a config written to a temp dir, TSDB in the temp dir, the
// web/API listener on a free loopback port; plus a small client for its HTTP API.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { freePort, start, waitFor } from './helpers.ts';

export interface PromSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

export interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType: string; result: PromSeries[] };
}

export interface Prometheus {
  url: string;
  query(expr: string, timeS: number): Promise<PromResponse>;
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<PromResponse>;
  get<T>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  output(): string;
}

export async function startPrometheus(t: TestContext, dir: string, config: unknown): Promise<Prometheus> {
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(config));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = await start(t, [
      'prometheus',
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `tsdb-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    try {
      const exited = new Promise<never>((_, reject) => p.child.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${p.output().slice(-1500)}`))));
      await Promise.race([
        exited,
        waitFor('prometheus ready', async () => {
          const res = await fetch(`${url}/-/ready`);
          return res.ok ? true : undefined;
        }, 30_000),
      ]);
      exited.catch(() => {}); // later exits are the test's cleanup
    } catch (err) {
      // Another process may have taken the port between freePort() and the bind: try another one.
      if (attempt < 2 && /address already in use/.test(p.output())) continue;
      throw err;
    }
    const get = async <T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> => {
      const body = new URLSearchParams();
      // GET works on every API path (label values and targets have no POST form).
      for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
      const res = await fetch(`${url}${path}?${body.toString()}`, { signal: AbortSignal.timeout(30_000) });
      return (await res.json()) as T;
    };
    return {
      url,
      get,
      query: (expr, timeS) => get<PromResponse>('/api/v1/query', { query: expr, time: String(timeS) }),
      queryRange: (expr, startS, endS, stepS) => get<PromResponse>('/api/v1/query_range', { query: expr, start: String(startS), end: String(endS), step: String(stepS) }),
      output: () => p.output(),
    };
  }
}

/** True when a query result holds at least one finite sample. */
export function hasFiniteSample(r: PromResponse): boolean {
  return (r.data?.result ?? []).some((s) => [...(s.values ?? []), ...(s.value === undefined ? [] : [s.value])].some(([, v]) => Number.isFinite(Number(v))));
}
