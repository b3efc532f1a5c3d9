// The platform promise of DESIGN.md: npm scripts run on the Node 24 that `npm ci` installs,
// the `meshlet` launcher re-executes on it from an older Node, and no native addon is in the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

test('npm scripts run on Node 24', () => {
  assert.match(process.versions.node, /^24\./);
});

test('the meshlet launcher runs on Node 24 even when started by an older node', () => {
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  const node = systemNode ?? process.execPath;
  const out = execFileSync(node, [join(root, 'bin/meshlet.js'), '--version'], { encoding: 'utf8' });
  assert.match(out.trim(), /^meshlet \d+\.\d+\.\d+ \(node 24\.\d+\.\d+\)$/);
});

test('no native addon anywhere in node_modules', () => {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 12) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !entry.isSymbolicLink()) walk(path, depth + 1);
      else if (entry.name.endsWith('.node') || entry.name === 'binding.gyp') found.push(path);
    }
  };
  walk(join(root, 'node_modules'), 0);
  assert.deepEqual(found, []);
});

test('every workspace package declares no install scripts of its own', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  for (const ws of pkg.workspaces) {
    assert.ok(statSync(join(root, ws)).isDirectory(), ws);
    const wsPkg = JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(wsPkg.scripts?.[hook], undefined, `${ws} ${hook}`);
  }
});
