import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionDeps, Step } from './actions.ts';
import { applyPlan, createJournal, teardown, type JournalEntry } from './apply.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import { createFakeHost } from './test-host.ts';

const step = (id: string, extra: Partial<Step> = {}): Step => ({
  id,
  title: `make ${id}`,
  do: [{ op: 'exec', argv: ['make', id] }],
  undo: [{ op: 'exec', argv: ['unmake', id], absentOk: true }],
  ...extra,
});

function deps(host = createFakeHost()): ActionDeps & { host: ReturnType<typeof createFakeHost> } {
  return { host, cgroups: undefined, signal: () => Promise.resolve(true), sweep: () => Promise.resolve(0) };
}

test('a failing step rolls back everything this apply did, newest first, and the journal is empty again', async () => {
  const d = deps();
  d.host.failOn(/^make c$/, 'RTNETLINK answers: File exists');
  const persisted: JournalEntry[][] = [];
  const journal = createJournal([], (e) => (persisted.push([...e]), Promise.resolve()));
  await assert.rejects(applyPlan([[step('a')], [step('b')], [step('c')], [step('d')]], { deps: d, journal }), (err: unknown) => {
    assert.ok(err instanceof RuntimeError);
    assert.equal(err.code, ERROR_CODES.apply);
    assert.match(err.message, /make c failed: make c: RTNETLINK answers: File exists/);
    return true;
  });
  assert.deepEqual(d.host.calls, ['make a', 'make b', 'make c', 'unmake c', 'unmake b', 'unmake a']);
  assert.deepEqual(journal.entries(), []);
  // Write-ahead: the undo of c was on disk before c ran.
  assert.ok(persisted.some((e) => e.map((x) => x.id).join() === 'a,b,c'));
});

test('teardown is idempotent: "not found" is success, and a second run does nothing', async () => {
  const d = deps();
  const journal = createJournal([], () => Promise.resolve());
  await applyPlan([[step('a'), step('b')]], { deps: d, journal });
  d.host.failOn(/^unmake a$/, 'Cannot find device "a"');
  assert.deepEqual(await teardown(journal, d), []);
  assert.deepEqual(journal.entries(), []);
  d.host.calls.length = 0;
  assert.deepEqual(await teardown(journal, d), []);
  assert.deepEqual(d.host.calls, []);
});

test('a real teardown failure is reported and its entry kept for the next attempt', async () => {
  const d = deps();
  const journal = createJournal([{ id: 'x', undo: [{ op: 'exec', argv: ['unmake', 'x'] }] }, { id: 'y', undo: [{ op: 'exec', argv: ['unmake', 'y'] }] }], () => Promise.resolve());
  d.host.failOn(/^unmake y$/, 'Device or resource busy');
  const problems = await teardown(journal, d);
  assert.equal(problems.length, 1);
  assert.match(problems[0] as string, /^y: unmake y: Device or resource busy/);
  assert.deepEqual(journal.entries().map((e) => e.id), ['y']);
  assert.deepEqual(d.host.calls, ['unmake y', 'unmake x']);
});

test('teardown of one pod leaves the rest', async () => {
  const d = deps();
  const journal = createJournal([], () => Promise.resolve());
  await applyPlan([[step('mesh/bridge')], [step('pod/a/net'), step('pod/b/net')]], { deps: d, journal });
  await teardown(journal, d, (id) => id.startsWith('pod/a/'));
  assert.deepEqual(journal.entries().map((e) => e.id).sort(), ['mesh/bridge', 'pod/b/net']);
});

test('steps of a stage run concurrently but a failure stops later stages', async () => {
  const d = deps();
  d.host.failOn(/^make p2$/, 'boom');
  const journal = createJournal([], () => Promise.resolve());
  await assert.rejects(applyPlan([[step('p1'), step('p2'), step('p3')], [step('later')]], { deps: d, journal, concurrency: 3 }));
  assert.ok(!d.host.calls.includes('make later'));
  assert.deepEqual(journal.entries(), []);
});
