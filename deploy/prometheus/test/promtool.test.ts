// The shipped Prometheus configs and rules, checked by Debian's promtool: syntax, rule unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sidecarTargets } from '../src/targets.ts';

const run = promisify(execFile);
const dir = join(import.meta.dirname, '..');

async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: dir });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

test('promtool check config: the local-runtime config and its rule files', async () => {
  const r = await promtool('check', 'config', 'prometheus.yml');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: 1 rule files found/);
});

test('promtool check rules and the rules\' unit tests', async () => {
  const check = await promtool('check', 'rules', 'rules/meshlet.rules.yml');
  assert.equal(check.code, 0, check.out);
  const unit = await promtool('test', 'rules', 'rules/meshlet.rules.test.yml');
  assert.equal(unit.code, 0, unit.out);
  assert.match(unit.out, /SUCCESS/);
});

test('promtool catches a broken rule (the check can fail)', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'meshlet-promtool-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  await writeFile(join(tmp, 'bad.yml'), 'groups:\n  - name: bad\n    rules:\n      - alert: Broken\n        expr: sum(meshlet_requests_total\n');
  const r = await promtool('check', 'rules', join(tmp, 'bad.yml'));
  assert.notEqual(r.code, 0);
  assert.match(r.out, /parse error/);
});

test('sidecar targets: one group per scrapeable pod with an IP, sorted, with service/pod/mesh/version labels', () => {
  const pod = { mesh: 'shop', health: 'healthy' as const, restarts: 0, lastReportMs: 0 };
  const groups = sidecarTargets({
    events: [],
    pods: [
      { ...pod, pod: 'payments-1', service: 'payments', ip: '10.77.0.9', state: 'running' },
      { ...pod, pod: 'orders-1', service: 'orders', ip: '10.77.0.5', state: 'running', version: 'blue' },
      { ...pod, pod: 'orders-2', service: 'orders', ip: '10.77.0.6', state: 'exited' },
      { ...pod, pod: 'orders-3', service: 'orders', state: 'creating' },
    ],
  });
  assert.deepEqual(groups, [
    { targets: ['10.77.0.5:15000'], labels: { service: 'orders', pod: 'orders-1', mesh: 'shop', version: 'blue' } },
    { targets: ['10.77.0.9:15000'], labels: { service: 'payments', pod: 'payments-1', mesh: 'shop' } },
  ]);
});
