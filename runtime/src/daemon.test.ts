import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { unsearchableAncestor } from './daemon.ts';

test('compile cache reachability: the first parent other users cannot search is named, with its mode', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'meshlet-daemon-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const cache = join(root, 'state', 'compile-cache');
  await mkdir(cache, { recursive: true });
  await chmod(root, 0o755);
  await chmod(join(root, 'state'), 0o755);
  // tmpdir() itself may be anything on a developer's machine; what is below it is what this test controls.
  const above = await unsearchableAncestor(root);
  if (above !== undefined) return t.skip(`${above.dir} is not searchable by others here`);
  assert.equal(await unsearchableAncestor(cache), undefined);
  await chmod(join(root, 'state'), 0o700);
  assert.deepEqual(await unsearchableAncestor(cache), { dir: join(root, 'state'), mode: 0o700 });
  await chmod(root, 0o711);
  assert.deepEqual(await unsearchableAncestor(cache), { dir: join(root, 'state'), mode: 0o700 }, 'o+x without o+r is enough to pass');
});
