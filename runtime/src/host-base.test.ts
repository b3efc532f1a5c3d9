import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withInstallDir } from './host-base.ts';

test('the install directory is bound read-only unless a bound directory holds it', () => {
  const base = { dirs: ['/usr', '/etc', '/opt'], symlinks: { bin: 'usr/bin' } };
  assert.deepEqual(withInstallDir(base, '/root/meshlet').dirs, ['/usr', '/etc', '/opt', '/root/meshlet']);
  assert.deepEqual(withInstallDir(base, '/root/meshlet').symlinks, { bin: 'usr/bin' });
  assert.equal(withInstallDir(base, '/opt/meshlet'), base);
  assert.equal(withInstallDir(base, '/usr/local/lib/node_modules/meshlet'), base);
  // A sibling whose name merely starts the same is not covered.
  assert.deepEqual(withInstallDir(base, '/usrlocal/meshlet').dirs.at(-1), '/usrlocal/meshlet');
});
