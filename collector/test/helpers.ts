// Test helpers: an in-process collector on port 0 with a temporary data directory, removed after the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { collectorConfigSchema, type CollectorConfigInput } from '@meshlet/wire';
import { pino } from 'pino';
import { type Collector, createCollector } from '../src/collector.ts';

export interface TestCollector {
  collector: Collector;
  otlp: string;
  http: string;
  dir: string;
}

export function tempDir(t: TestContext, prefix = 'meshlet-collector-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startCollector(t: TestContext, overrides: Partial<CollectorConfigInput> = {}, uiDir?: string): Promise<TestCollector> {
  const dir = tempDir(t);
  const config = collectorConfigSchema.parse({ otlp: '127.0.0.1:0', http: '127.0.0.1:0', data: dir, analysisQuiet: 50, sync: 'normal', ...overrides });
  const collector = await createCollector({
    config,
    uiDir: uiDir ?? join(dir, 'no-ui'),
    log: pino({ level: 'silent' }),
    version: 'test',
    analysisIntervalMs: 20,
  });
  t.after(() => collector.close());
  return { collector, otlp: `http://${collector.otlpAddress}`, http: `http://${collector.httpAddress}`, dir };
}

/** Polls `check` until it returns a value other than undefined/false (every 20 ms, up to `timeoutMs`). */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** A Buffer as a fetch body (fetch's types want an ArrayBuffer-backed view). */
export function body(buf: Buffer | string): Uint8Array<ArrayBuffer> | string {
  return typeof buf === 'string' ? buf : (new Uint8Array(buf.buffer, buf.byteOffset, buf.length) as Uint8Array<ArrayBuffer>);
}
