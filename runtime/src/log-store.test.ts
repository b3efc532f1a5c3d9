import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogWriter, followLogs, lineSplitter, readLogs } from './log-store.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-logs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('lines are kept in order, filtered by time and tail', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'logs', 'app.log');
  const w = createLogWriter(path);
  for (let i = 0; i < 10; i++) w.write(i % 2 === 0 ? 'stdout' : 'stderr', `line ${i}`, 1000 + i);
  await w.close();
  const all = await readLogs(path);
  assert.deepEqual(all.map((l) => l.l), Array.from({ length: 10 }, (_, i) => `line ${i}`));
  assert.equal(all[1]?.s, 'stderr');
  assert.deepEqual((await readLogs(path, { tail: 2 })).map((l) => l.l), ['line 8', 'line 9']);
  assert.deepEqual((await readLogs(path, { sinceMs: 1007 })).map((l) => l.l), ['line 7', 'line 8', 'line 9']);
  assert.deepEqual(await readLogs(path, { tail: 0 }), []);
});

test('files rotate by size and the oldest is dropped', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'app.log');
  const w = createLogWriter(path, { maxBytes: 600, keep: 2 });
  for (let i = 0; i < 60; i++) w.write('stdout', `message number ${String(i).padStart(3, '0')}`, i);
  await w.close();
  assert.deepEqual((await readdir(dir)).sort(), ['app.log', 'app.log.1', 'app.log.2']);
  const kept = await readLogs(path, { keep: 2 });
  assert.ok(kept.length < 60 && kept.length > 10);
  assert.equal(kept.at(-1)?.l, 'message number 059');
  // Still in order across the rotated files.
  assert.deepEqual(kept.map((l) => l.t), [...kept.map((l) => l.t)].sort((a, b) => a - b));
});

test('a full backlog drops lines and counts them instead of growing', async (t) => {
  const dir = await tempDir(t);
  const w = createLogWriter(join(dir, 'app.log'), { maxPendingBytes: 1000, flushIntervalMs: 10_000 });
  for (let i = 0; i < 100; i++) w.write('stdout', 'x'.repeat(50));
  assert.ok(w.dropped() > 50);
  await w.close();
});

test('follow sees new lines, across a rotation', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'app.log');
  const w = createLogWriter(path, { maxBytes: 300, flushIntervalMs: 5 });
  w.write('stdout', 'before');
  await w.flush();
  const stop = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const line of followLogs(path, stop.signal, 20)) {
      seen.push(line.l);
      if (seen.length === 12) stop.abort();
    }
  })();
  for (let i = 0; i < 12; i++) {
    w.write('stdout', `after ${i} ${'y'.repeat(30)}`);
    await w.flush();
    await new Promise((r) => setTimeout(r, 30));
  }
  const timer = setTimeout(() => stop.abort(), 3000);
  await done;
  clearTimeout(timer);
  await w.close();
  assert.ok(!seen.includes('before'));
  assert.ok(seen.length >= 10, `saw ${seen.length}`);
  assert.match(seen[0] as string, /^after 0/);
});

test('the line splitter joins chunks and cuts very long lines', () => {
  const lines: string[] = [];
  const s = lineSplitter((l) => lines.push(l), 8);
  s.push('ab');
  s.push('c\r\nde');
  s.push('f\n0123456789');
  s.end();
  assert.deepEqual(lines, ['abc', 'def', '01234567', '89']);
});
