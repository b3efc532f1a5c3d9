import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES } from './errors.ts';
import { checkPortFree, findTool, needsRootError, preflightProblems, type HostFacts, type MeshClaims } from './preflight.ts';

const claims: MeshClaims = { subnet: '10.77.0.0/16', vipRange: '10.78.0.0/16', bridge: 'meshlet0', netns: ['ml-shop-web-1'], links: ['mlv1234'], chains: ['ML-abc-FWD'], cgroups: ['meshlet/shop'] };
const quiet: HostFacts = {
  routes: [{ dst: 'default', dev: 'eth0' }, { dst: '192.168.1.0/24', dev: 'eth0' }],
  addresses: [{ cidr: '192.168.1.5/24', dev: 'eth0' }],
  links: ['lo', 'eth0'],
  netns: [],
  chains: [],
  cgroups: [],
};

test('a quiet host has no problems', () => {
  assert.deepEqual(preflightProblems(claims, quiet), []);
});

test('subnet and VIP clashes with routes, addresses and each other are named', () => {
  const facts: HostFacts = { ...quiet, routes: [...quiet.routes, { dst: '10.77.0.0/16', dev: 'docker0' }, { dst: '10.78.5.0/24', dev: 'wg0' }], addresses: [...quiet.addresses, { cidr: '10.77.0.1/16', dev: 'docker0' }] };
  const problems = preflightProblems(claims, facts);
  assert.ok(problems.every((p) => p.code === ERROR_CODES.subnetClash));
  assert.deepEqual(problems.map((p) => p.message), [
    'network.subnet 10.77.0.0/16 overlaps the host route 10.77.0.0/16 dev docker0',
    'network.vip_range 10.78.0.0/16 overlaps the host route 10.78.5.0/24 dev wg0',
  ]);
  const self = preflightProblems({ ...claims, vipRange: '10.77.128.0/17' }, quiet);
  assert.equal(self[0]?.message, 'network.subnet 10.77.0.0/16 overlaps network.vip_range 10.77.128.0/17');
  const unreachable = preflightProblems(claims, { ...quiet, routes: [{ dst: '10.78.0.0/16', type: 'unreachable' }] });
  assert.equal(unreachable[0]?.message, 'network.vip_range 10.78.0.0/16 overlaps the host route unreachable 10.78.0.0/16');
});

test('names in use: bridge, netns, veth, chain, cgroup', () => {
  const problems = preflightProblems(claims, { ...quiet, links: ['meshlet0', 'mlv1234'], netns: ['ml-shop-web-1'], chains: ['ML-abc-FWD'], cgroups: ['meshlet/shop'] });
  assert.ok(problems.every((p) => p.code === ERROR_CODES.nameInUse));
  assert.deepEqual(problems.map((p) => p.message), [
    'network interface meshlet0 already exists',
    'network interface mlv1234 already exists',
    'network namespace ml-shop-web-1 already exists',
    'iptables chain ML-abc-FWD already exists',
    'cgroup meshlet/shop already exists',
  ]);
});

test('a taken port is a clear error; a free one is fine', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const problem = await checkPortFree('127.0.0.1', port, 'services.web.publish');
  assert.equal(problem?.code, ERROR_CODES.portInUse);
  assert.match(problem?.message ?? '', new RegExp(`^services\\.web\\.publish: 127\\.0\\.0\\.1:${port} is already in use`));
  assert.equal(await checkPortFree('127.0.0.1', 0, 'x'), undefined);
});

test('tools are found on PATH and the sbin directories; root is explained in one line', async () => {
  assert.match((await findTool('sh')) ?? '', /\/sh$/);
  assert.equal(await findTool('definitely-not-a-tool-here'), undefined);
  const e = needsRootError('up');
  assert.equal(e.code, ERROR_CODES.needsRoot);
  assert.ok(!e.message.includes('\n'));
  assert.match(e.message, /--isolation=process/);
});
