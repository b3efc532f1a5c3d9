import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshNames, podNames } from './names.ts';
import { bridgeMac, planMeshSetup, planPodSetup, type MeshPlanContext, type PodPlan } from './plan.ts';

const names = meshNames('/run/meshlet', 'shop');
const ctx: MeshPlanContext = {
  mesh: 'shop',
  meshDir: '/run/meshlet/shop',
  names,
  isolation: 'netns',
  network: { bridge: 'mlbr0', subnet: '10.77.0.0/16', prefix: 16, vipRange: '10.78.0.0/16', bridgeIp: '10.77.0.1', probeIp: '10.77.255.254', egress: 'none' },
  publishes: true,
  cgroups: true,
};
const pod: PodPlan = {
  name: 'web-1',
  ip: '10.77.0.2',
  names: podNames(names, 'shop', 'web-1'),
  dir: '/run/meshlet/shop/pods/web-1',
  hosts: '127.0.0.1 localhost\n',
  port: 8080,
  limits: { memoryBytes: 64 << 20 },
  collectorOnBridge: true,
  container: { args: ['node', 'server.js'], env: {}, workingDir: '/srv/web', runcRoot: '/run/meshlet/shop/runc', hostBase: { dirs: ['/usr', '/etc'], symlinks: { bin: 'usr/bin' } } },
};

test('mesh setup: state dir first, then cgroup, sweep, bridge, VIP route, sysctls, iptables', () => {
  const steps = planMeshSetup(ctx);
  assert.deepEqual(
    steps.map((s) => s.id),
    ['mesh/dir', 'mesh/cgroup', 'mesh/sweep', 'mesh/bridge', 'mesh/vip-route', 'mesh/sysctl', 'mesh/iptables'],
  );
  const bridge = steps.find((s) => s.id === 'mesh/bridge');
  assert.deepEqual(bridge?.undo, [{ op: 'exec', argv: ['ip', 'link', 'del', 'mlbr0'], absentOk: true }]);
  // The bridge gets its own address, so veths joining it (lower MACs) cannot change it under the pods.
  const created = bridge?.do[0];
  assert.ok(created?.op === 'exec' && created.stdin?.startsWith(`link add mlbr0 address ${bridgeMac('mlbr0')} type bridge\n`), JSON.stringify(created));
  assert.match(JSON.stringify(steps.find((s) => s.id === 'mesh/vip-route')?.do), /unreachable","10\.78\.0\.0\/16/);
  const sweep = steps.find((s) => s.id === 'mesh/sweep');
  assert.deepEqual(sweep?.undo, [{ op: 'sweep', owner: names.owner }]);
  // Every undo either tolerates absence or is idempotent by nature.
  for (const s of steps) for (const a of s.undo) if (a.op === 'exec') assert.equal(a.absentOk, true, `${s.id}: ${a.argv.join(' ')}`);
});

test('bridge MAC: unicast, locally administered, stable per name, different between names', () => {
  const mac = bridgeMac('meshlet0');
  assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  const first = parseInt(mac.slice(0, 2), 16);
  assert.equal(first & 0x01, 0, 'unicast');
  assert.equal(first & 0x02, 0x02, 'locally administered');
  assert.equal(bridgeMac('meshlet0'), mac);
  assert.notEqual(bridgeMac('meshlet1'), mac);
});

test('no publishing and no NAT: no sysctl step', () => {
  assert.ok(!planMeshSetup({ ...ctx, publishes: false }).some((s) => s.id === 'mesh/sysctl'));
});

test('process isolation: only state, cgroup and sweep', () => {
  assert.deepEqual(planMeshSetup({ ...ctx, isolation: 'process' }).map((s) => s.id), ['mesh/dir', 'mesh/cgroup', 'mesh/sweep']);
  assert.deepEqual(planMeshSetup({ ...ctx, isolation: 'process', cgroups: false }).map((s) => s.id), ['mesh/dir', 'mesh/sweep']);
});

test('pod setup: netns, hosts, veth, address and routes, iptables, cgroups with limits, bundle; undo removes all of it', () => {
  const step = planPodSetup(ctx, pod);
  assert.equal(step.id, 'pod/web-1/net');
  const text = JSON.stringify(step.do);
  for (const needle of [
    `netns add ${pod.names.netns}\\nlink add ${pod.names.veth} type veth`, // the netns is made by the same `ip -batch` as the veth, before it
    `link add ${pod.names.veth} type veth peer name eth0 netns ${pod.names.netns}`,
    `link set ${pod.names.veth} master mlbr0`,
    'addr add 10.77.0.2/16 dev eth0',
    'route add 10.78.0.0/16 via 10.77.0.1 dev eth0',
    `netns exec ${pod.names.netns} ip -batch \\"/run/meshlet/shop/pods/web-1/net.batch\\"`, // the pod's side by the same `ip -batch`
    `netns exec ${pod.names.netns} iptables-restore -w 5 \\"/run/meshlet/shop/pods/web-1/iptables.rules\\"`,
    '--dport 8080 -j REDIRECT --to-ports 15006',
    `/etc/netns/${pod.names.netns}/hosts`,
    '"path":"meshlet/shop/web-1/app","limits":{"memoryBytes":67108864}',
    '/run/meshlet/shop/pods/web-1/bundle/config.json',
  ]) {
    assert.ok(text.includes(needle), needle);
  }
  assert.ok(!text.includes('route add default'), 'no default route without egress: nat');
  const undo = step.undo.map((a) => (a.op === 'exec' ? a.argv.join(' ') : `${a.op} ${'path' in a ? a.path : ''}`));
  assert.deepEqual(undo, [
    'cgroup-remove meshlet/shop/web-1',
    'runc --root /run/meshlet/shop/runc delete --force web-1',
    `ip link del ${pod.names.veth}`,
    `ip netns del ${pod.names.netns}`,
    `remove /etc/netns/${pod.names.netns}`,
    'remove /run/meshlet/shop/pods/web-1',
  ]);
  const nat = planPodSetup({ ...ctx, network: { ...ctx.network, egress: 'nat' } }, pod);
  assert.ok(JSON.stringify(nat.do).includes('route add default via 10.77.0.1 dev eth0'));
});
