import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_CAPABILITIES, ociConfig } from './oci.ts';

const base = {
  args: ['node', 'server.js'],
  env: { PORT: '8080' },
  cwd: '/srv/app',
  hostname: 'web-1',
  netnsPath: '/run/netns/ml-shop-web-1',
  cgroupsPath: '/meshlet/shop/web-1/app/ctr',
  limits: { cpus: 0.5, memoryBytes: 64 * 1024 * 1024, pids: 100 },
  hostsFile: '/etc/netns/ml-shop-web-1/hosts',
  hostDirs: ['/usr', '/etc'],
  workingDir: '/srv/app',
};

test('a read-only host-base container in the pod netns with few capabilities', () => {
  const c = ociConfig(base) as { root: unknown; process: Record<string, unknown>; linux: Record<string, unknown>; mounts: { destination: string; options?: string[] }[]; hostname: string };
  assert.deepEqual(c.root, { path: 'rootfs', readonly: true });
  assert.equal(c.hostname, 'web-1');
  assert.deepEqual(c.process['args'], ['node', 'server.js']);
  assert.deepEqual(c.process['env'], ['PORT=8080']);
  assert.equal(c.process['noNewPrivileges'], true);
  assert.deepEqual((c.process['capabilities'] as Record<string, string[]>)['bounding'], [...APP_CAPABILITIES]);
  assert.ok(!APP_CAPABILITIES.includes('CAP_NET_ADMIN'), 'the app must not be able to change the pod iptables');
  const ns = c.linux['namespaces'] as { type: string; path?: string }[];
  assert.deepEqual(ns.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(ns.find((n) => n.type === 'network')?.path, '/run/netns/ml-shop-web-1');
  assert.equal(c.linux['cgroupsPath'], '/meshlet/shop/web-1/app/ctr');
  assert.deepEqual((c.linux['resources'] as Record<string, unknown>)['memory'], { limit: 67108864, swap: 67108864 });
  assert.deepEqual((c.linux['resources'] as Record<string, unknown>)['cpu'], { quota: 50000, period: 100000 });
  assert.deepEqual((c.linux['resources'] as Record<string, unknown>)['pids'], { limit: 100 });
  const dests = c.mounts.map((m) => m.destination);
  assert.ok(c.mounts.find((m) => m.destination === '/usr')?.options?.includes('ro'));
  assert.ok(c.mounts.find((m) => m.destination === '/etc/hosts')?.options?.includes('ro'));
  // The working directory is mounted last, so a tmpfs on /tmp cannot hide it.
  assert.equal(dests.at(-1), '/srv/app');
  assert.ok(dests.indexOf('/etc/hosts') > dests.indexOf('/etc'));
});

test('no limits: no resource sections besides devices', () => {
  const c = ociConfig({ ...base, limits: undefined }) as { linux: { resources: Record<string, unknown> } };
  assert.deepEqual(Object.keys(c.linux.resources), ['devices']);
});

test('host directories under /tmp or /run are bound after the container\'s own tmpfs there, read-only', () => {
  const c = ociConfig({ ...base, hostDirs: ['/usr', '/tmp/meshlet-clone', '/run/tools', '/etc'] }) as { mounts: { destination: string; type: string; options?: string[] }[] };
  const at = (d: string) => c.mounts.findIndex((m) => m.destination === d);
  assert.ok(at('/tmp/meshlet-clone') > at('/tmp'), 'a meshlet clone in /tmp stays visible in the pod');
  assert.ok(at('/run/tools') > at('/run'));
  assert.ok(at('/usr') < at('/tmp'));
  assert.ok(c.mounts[at('/tmp/meshlet-clone')]?.options?.includes('ro'));
  assert.equal(c.mounts.at(-1)?.destination, '/srv/app');
});
