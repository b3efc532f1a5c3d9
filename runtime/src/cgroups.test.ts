import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCgroupsV1, createCgroupsV2, parseCgroupMounts, parseFlatKeyed } from './cgroups.ts';

// A fake sysfs: plain directories and files. Real cgroupfs creates the interface files itself; here
// the test writes the ones it reads.
async function tree(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-cgroup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('v1: limits go to each controller, stats come from each', async (t) => {
  const root = await tree(t);
  const h = { memory: ['memory'], cpu: ['cpu'], cpuacct: ['cpuacct'], pids: ['pids'], cpuset: ['cpuset'] };
  const hierarchies = Object.fromEntries(Object.entries(h).map(([d, c]) => [join(root, d), c]));
  for (const d of Object.keys(hierarchies)) await mkdir(d);
  // memsw exists only with swap accounting: create the parent file so the child gets it written.
  const cg = createCgroupsV1(hierarchies);
  await mkdir(join(root, 'memory', 'm', 'p'), { recursive: true });
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.memsw.limit_in_bytes'), '');
  await cg.create('m/p', { memoryBytes: 64 << 20, cpus: 1.5, pids: 50 });
  assert.equal(await readFile(join(root, 'memory', 'm', 'p', 'memory.limit_in_bytes'), 'utf8'), String(64 << 20));
  assert.equal(await readFile(join(root, 'memory', 'm', 'p', 'memory.memsw.limit_in_bytes'), 'utf8'), String(64 << 20));
  assert.equal(await readFile(join(root, 'cpu', 'm', 'p', 'cpu.cfs_quota_us'), 'utf8'), '150000');
  assert.equal(await readFile(join(root, 'cpu', 'm', 'p', 'cpu.cfs_period_us'), 'utf8'), '100000');
  assert.equal(await readFile(join(root, 'pids', 'm', 'p', 'pids.max'), 'utf8'), '50');
  // cpuset is left alone (a new cpuset cgroup has no CPUs and refuses processes).
  await assert.rejects(readFile(join(root, 'cpuset', 'm', 'p', 'cpuset.cpus')));
  await cg.addProcess('m/p', 4242);
  assert.equal(await readFile(join(root, 'pids', 'm', 'p', 'cgroup.procs'), 'utf8'), '4242');
  await mkdir(join(root, 'memory', 'm', 'p', 'child'));
  await writeFile(join(root, 'memory', 'm', 'p', 'child', 'cgroup.procs'), '77\n78\n');
  assert.deepEqual((await cg.procs('m/p')).sort(), [4242, 77, 78].sort());

  await writeFile(join(root, 'cpuacct', 'm', 'p', 'cpuacct.usage'), '2500000000\n');
  await writeFile(join(root, 'cpu', 'm', 'p', 'cpu.stat'), 'nr_periods 10\nnr_throttled 3\nthrottled_time 120000000\n');
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.usage_in_bytes'), '10485760\n');
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.stat'), 'cache 100\ntotal_inactive_file 2097152\n');
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.max_usage_in_bytes'), '20971520\n');
  await writeFile(join(root, 'pids', 'm', 'p', 'pids.current'), '7\n');
  assert.deepEqual(await cg.stats('m/p'), {
    cpuSeconds: 2.5,
    throttledSeconds: 0.12,
    throttledPeriods: 3,
    memoryBytes: 8 * 1024 * 1024,
    memoryLimitBytes: 64 << 20,
    memoryPeakBytes: 20971520,
    oomKills: 2,
    pids: 7,
  });
  await writeFile(join(root, 'memory', 'm', 'p', 'memory.limit_in_bytes'), '9223372036854771712\n');
  assert.equal((await cg.stats('m/p'))?.memoryLimitBytes, undefined);
  assert.equal(await cg.stats('nope'), undefined);
  assert.equal(await cg.oomKills('m/p'), 2, 'the OOM counter alone, as the runtime polls it');
  assert.equal(await cg.oomKills('nope'), undefined);
  assert.ok(await cg.exists('m/p'));
});

test('v2: controllers enabled down the path, limits and stats in the unified files', async (t) => {
  const root = await tree(t);
  await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  const cg = createCgroupsV2(root);
  await cg.create('meshlet/shop/web-1/app', { memoryBytes: 32 << 20, cpus: 0.25, pids: 20 });
  assert.equal(await readFile(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
  assert.equal(await readFile(join(root, 'meshlet', 'shop', 'web-1', 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
  const dir = join(root, 'meshlet', 'shop', 'web-1', 'app');
  assert.equal(await readFile(join(dir, 'memory.max'), 'utf8'), String(32 << 20));
  assert.equal(await readFile(join(dir, 'memory.swap.max'), 'utf8'), '0');
  assert.equal(await readFile(join(dir, 'cpu.max'), 'utf8'), '25000 100000');
  assert.equal(await readFile(join(dir, 'pids.max'), 'utf8'), '20');
  await writeFile(join(dir, 'cpu.stat'), 'usage_usec 1500000\nuser_usec 1\nsystem_usec 1\nnr_periods 4\nnr_throttled 2\nthrottled_usec 40000\n');
  await writeFile(join(dir, 'memory.current'), '5242880\n');
  await writeFile(join(dir, 'memory.stat'), 'anon 1\ninactive_file 1048576\n');
  await writeFile(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
  await writeFile(join(dir, 'pids.current'), '3\n');
  const s = await cg.stats('meshlet/shop/web-1/app');
  assert.deepEqual(s, { cpuSeconds: 1.5, throttledSeconds: 0.04, throttledPeriods: 2, memoryBytes: 4 << 20, memoryLimitBytes: 32 << 20, memoryPeakBytes: undefined, oomKills: 1, pids: 3 });
  assert.equal(await cg.oomKills('meshlet/shop/web-1/app'), 1);
  assert.equal(await cg.oomKills('meshlet/nope'), undefined);
  await writeFile(join(dir, 'memory.max'), 'max\n');
  assert.equal((await cg.stats('meshlet/shop/web-1/app'))?.memoryLimitBytes, undefined);
});

test('mountinfo: v1 hierarchies with their controllers, and the v2 mount', () => {
  const info = [
    '30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '34 30 0:30 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  ].join('\n');
  const m = parseCgroupMounts(info);
  assert.equal(m.v2, '/sys/fs/cgroup/unified');
  assert.deepEqual(m.v1['/sys/fs/cgroup/cpu,cpuacct'], ['cpu', 'cpuacct']);
  assert.deepEqual(m.v1['/sys/fs/cgroup/memory'], ['memory']);
  assert.deepEqual(m.v1['/sys/fs/cgroup/systemd'], ['xattr', 'name=systemd']);
  assert.deepEqual([...parseFlatKeyed('a 1\nb x\n c 3').entries()], [['a', 1], ['c', 3]]);
});
