// The real `meshlet collector` process: flags, the `listening` line, --help, bad settings, clean shutdown,
// and durability — SIGKILL in the middle of a stream loses no acknowledged span.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { encodeTraceRequest } from '../src/otlp/encode.ts';
import type { SpanRecord } from '../src/otlp/model.ts';
import { shopTrace } from './fixtures/shop.ts';
import { seededRandom } from './fixtures/trace-builder.ts';
import { body, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'meshlet.js');

interface Running {
  child: ChildProcess;
  otlp: string;
  http: string;
}

function spawnCollector(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${text}`)), 15_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      text += chunk;
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg: string; otlp: string; http: string };
        if (entry.msg === 'listening') {
          clearTimeout(timer);
          resolve({ child, otlp: `http://${entry.otlp}`, http: `http://${entry.http}` });
          return;
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code}: ${text}`));
    });
  });
}

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'collector', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('--help documents the options; bad settings stop start-up with every problem listed', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--otlp', '--http', '--data', '--ui', '--retention-age', '--retention-size', '--analysis-quiet', '--forward', 'MESHLET_COLLECTOR_']) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const bad = await run(['--otlp', 'nowhere', '--retention-age', 'forever'], { MESHLET_COLLECTOR_SYNC: 'sometimes' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--otlp: expected "HOST:PORT"/);
  assert.match(bad.stderr, /--retention-age: expected a duration/);
  assert.match(bad.stderr, /--sync: /);
});

test('starts on port 0, logs the bound addresses, answers, and stops cleanly on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const c = await spawnCollector(t, ['--data', dir], { MESHLET_COLLECTOR_ANALYSIS_QUIET: '100ms' });
  const health = (await (await fetch(`${c.http}/api/v1/health`)).json()) as { ok: boolean };
  assert.equal(health.ok, true);
  const exited = new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)));
  c.child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('SIGKILL in the middle of a stream loses no acknowledged span; resent duplicates are stored once', async (t) => {
  const dir = tempDir(t);
  const first = await spawnCollector(t, ['--data', dir, '--sync', 'full']);
  const random = seededRandom(99);
  const batches: SpanRecord[][] = [];
  for (let i = 0; i < 300; i++) {
    const spans: SpanRecord[] = [];
    for (let j = 0; j < 5; j++) spans.push(...shopTrace('ok', { random }).spans);
    batches.push(spans);
  }
  const acked: SpanRecord[][] = [];
  let killed = false;
  const exited = new Promise<void>((r) => first.child.on('exit', () => r()));
  // Four exporters in parallel; the collector is killed once 40 batches are acknowledged.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length && !killed) {
      const batch = batches[next++] as SpanRecord[];
      try {
        const res = await fetch(`${first.otlp}/v1/traces`, { method: 'POST', body: body(encodeTraceRequest(batch)), headers: { 'content-type': 'application/x-protobuf' } });
        await res.arrayBuffer();
        if (res.status === 200) acked.push(batch);
        if (acked.length >= 40 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      } catch {
        return; // the connection died with the collector: not acknowledged
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await exited;
  assert.ok(killed, 'the collector was killed mid-stream');
  assert.ok(acked.length >= 40);

  const second = await spawnCollector(t, ['--data', dir]);
  const ackedTraces = new Map<string, number>();
  for (const batch of acked) for (const s of batch) ackedTraces.set(s.traceId, (ackedTraces.get(s.traceId) ?? 0) + 1);
  const ids = [...ackedTraces.keys()];
  for (let i = 0; i < ids.length; i += 50) {
    const query = ids.slice(i, i + 50).map((id) => `traceID=${id}`).join('&');
    const body = (await (await fetch(`${second.http}/api/traces?${query}`)).json()) as { data: { traceID: string; spans: unknown[] }[] };
    const found = new Map(body.data.map((tr) => [tr.traceID, tr.spans.length]));
    for (const id of ids.slice(i, i + 50)) assert.equal(found.get(id), ackedTraces.get(id), `trace ${id} is complete after the crash`);
  }

  // An exporter retrying everything after the restart: duplicates are ignored.
  const before = (await (await fetch(`${second.http}/api/v1/health`)).json()) as { spansStored: number };
  for (const batch of acked.slice(0, 10)) {
    const res = await fetch(`${second.otlp}/v1/traces`, { method: 'POST', body: body(encodeTraceRequest(batch)), headers: { 'content-type': 'application/x-protobuf' } });
    assert.equal(res.status, 200);
  }
  const after = (await (await fetch(`${second.http}/api/v1/health`)).json()) as { spansStored: number };
  assert.equal(after.spansStored, before.spansStored);
  assert.ok(before.spansStored >= acked.flat().length);
});
