import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStateWriter, listMeshDirs, readMeshRecord, type MeshRecord } from './state.ts';

const record = (journal: MeshRecord['journal']): MeshRecord => ({
  format: 1,
  mesh: 'shop',
  specPath: '/x/mesh.yaml',
  specText: '',
  isolation: 'netns',
  owner: 'shop.abc',
  daemonPid: 1,
  daemonStartTicks: 1,
  createdAtMs: 0,
  network: { bridge: 'b', subnet: '10.0.0.0/24', prefix: 24, vipRange: '10.1.0.0/24', bridgeIp: '10.0.0.1', probeIp: '10.0.0.254', egress: 'none' },
  vips: {},
  pods: {},
  replicas: {},
  traffic: {},
  faults: {},
  journal,
});

test('writes land in call order and atomically; an empty journal removes the mesh directory', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'meshlet-state-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'shop');
  const write = createStateWriter(dir);
  await Promise.all([1, 2, 3].map((n) => write(record(Array.from({ length: n }, (_, i) => ({ id: `s${i}`, undo: [] }))))));
  assert.equal((await readMeshRecord(dir))?.journal.length, 3);
  assert.deepEqual(await listMeshDirs(root), [dir]);
  assert.deepEqual(await readdir(dir), ['state.json']);
  await write(record([]));
  assert.deepEqual(await readdir(root), []);
  assert.equal(await readMeshRecord(dir), undefined);
});
