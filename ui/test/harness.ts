// Test harness: a real collector process (`meshlet collector` on port 0) and a headless Debian Chromium
// driven by playwright-core, each cleaned up by the test that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { CollectorHealth } from '@meshlet/wire';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SCREENSHOTS = join(import.meta.dirname, 'screenshots');
const CHROMIUM = process.env.MESHLET_CHROMIUM ?? '/usr/bin/chromium';

export interface Collector {
  /** `http://127.0.0.1:<port>` of the OTLP listener. */
  otlpUrl: string;
  /** `http://127.0.0.1:<port>` of the query API and UI. */
  httpUrl: string;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** `127.0.0.1:4318`, `http://127.0.0.1:4318` or `{host, port}` → a base URL. */
function toUrl(address: unknown): string | undefined {
  if (typeof address === 'string') return address.startsWith('http') ? address.replace(/\/$/, '') : `http://${address}`;
  if (address && typeof address === 'object' && 'port' in address) {
    const a = address as { host?: string; address?: string; port: number };
    return `http://${a.host ?? a.address ?? '127.0.0.1'}:${a.port}`;
  }
  return undefined;
}

/**
 * Starts `node bin/meshlet.js collector --otlp 127.0.0.1:0 --http 127.0.0.1:0 --data <tmp>` and waits for
 * its `listening` log line. Stopped (SIGTERM, then SIGKILL) and its data removed when the test ends.
 */
export async function startCollector(t: TestContext, extraEnv: Record<string, string> = {}): Promise<Collector> {
  if (!existsSync(join(ROOT, 'ui', 'dist', 'index.html'))) {
    throw new Error('ui/dist is missing: run `npm run build -w ui` (npm test runs it in pretest)');
  }
  const data = await mkdtemp(join(tmpdir(), 'meshlet-ui-test-'));
  // MESHLET_UI_TEST_BIN runs another checkout's collector (serving this checkout's ui/dist).
  const other = process.env.MESHLET_UI_TEST_BIN;
  const child: ChildProcess = spawn(
    process.execPath,
    [other ?? join(ROOT, 'bin', 'meshlet.js'), 'collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', data],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(other ? { MESHLET_COLLECTOR_UI: join(ROOT, 'ui', 'dist') } : {}), ...extraEnv },
    },
  );
  let stderr = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(data, { recursive: true, force: true });
  };
  t.after(stop);
  const addresses = await new Promise<{ otlp: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not log "listening" within 20 s; stderr:\n${stderr.slice(-2000)}`)), 20_000);
    let buffered = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (entry.msg !== 'listening') continue;
        const otlp = toUrl(entry.otlp);
        const http = toUrl(entry.http);
        if (otlp && http) {
          clearTimeout(timer);
          resolve({ otlp, http });
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`collector exited (${code ?? signal}) before listening; stderr:\n${stderr.slice(-2000)}`));
    });
  });
  return { otlpUrl: addresses.otlp, httpUrl: addresses.http, stderr: () => stderr, stop };
}

/** Waits until the collector has stored at least `spans` spans and analysed every trace (`analysisLagMs` 0). */
export async function waitForAnalysis(collector: Collector, spans: number, timeoutMs = 60_000): Promise<CollectorHealth> {
  const deadline = Date.now() + timeoutMs;
  let last: CollectorHealth | undefined;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${collector.httpUrl}/api/v1/health`);
      if (response.ok) {
        last = (await response.json()) as CollectorHealth;
        if (last.spansStored >= spans && last.queueDepth === 0 && last.analysisLagMs === 0) return last;
      }
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`collector did not store and analyse ${spans} spans within ${timeoutMs} ms; last health: ${JSON.stringify(last)}`);
}

/** GETs JSON from the collector (for assertions that compare the UI with the API). */
export async function api<T>(collector: Collector, path: string): Promise<T> {
  const response = await fetch(`${collector.httpUrl}${path}`);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Launches Debian's Chromium headless with a fresh profile (no network is used beyond loopback).
 * `onCleanup` receives the function that closes it and removes the profile (e.g. `t.after`).
 */
export async function startBrowser(onCleanup: (close: () => Promise<void>) => void, options: { colorScheme?: 'light' | 'dark' } = {}): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh test does)`);
  const profile = await mkdtemp(join(tmpdir(), 'meshlet-ui-chromium-'));
  const launched: { context?: BrowserContext } = {};
  // Registered before launching, so a launch that fails half-way still removes the profile.
  onCleanup(async () => {
    await launched.context?.close();
    await rm(profile, { recursive: true, force: true });
  });
  launched.context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: options.colorScheme ?? 'light',
    timezoneId: 'UTC',
    locale: 'en-GB',
  });
  return launched.context;
}

/** Fails the test on uncaught page errors and failed API calls the test did not expect. */
export function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  return { problems };
}

/** Writes `ui/test/screenshots/<name>.png` (gitignored) for a reviewer to look at. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}
