import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostRulesRemoval, hostRulesRestore, publishRestore } from './host-iptables.ts';
import { meshNames } from './names.ts';

const chains = meshNames('/run/meshlet', 'shop').chains;

test('host chains: forward on the bridge, masquerade of published traffic, NAT egress only when asked', () => {
  const none = hostRulesRestore({ chains, bridge: 'mlbr0', subnet: '10.77.0.0/16', egress: 'none' });
  assert.match(none, new RegExp(`-I FORWARD 1 -j ${chains.forward}`));
  assert.match(none, /-i mlbr0 -o mlbr0 -j ACCEPT/);
  assert.match(none, new RegExp(`-A PREROUTING -m addrtype --dst-type LOCAL -j ${chains.publish}`));
  assert.match(none, new RegExp(`-A OUTPUT -m addrtype --dst-type LOCAL -j ${chains.publish}`));
  assert.match(none, /-o mlbr0 -m conntrack --ctstate DNAT ! -s 10\.77\.0\.0\/16 -j MASQUERADE/);
  assert.doesNotMatch(none, /-s 10\.77\.0\.0\/16 ! -o mlbr0 -j MASQUERADE/);
  const nat = hostRulesRestore({ chains, bridge: 'mlbr0', subnet: '10.77.0.0/16', egress: 'nat' });
  assert.match(nat, /-s 10\.77\.0\.0\/16 ! -o mlbr0 -j MASQUERADE/);
  assert.match(nat, /-i mlbr0 ! -o mlbr0 -j ACCEPT/);
});

test('removal deletes jumps before flushing and deleting chains', () => {
  const removal = hostRulesRemoval(chains);
  const firstFlush = removal.findIndex((a) => a.includes('-F'));
  const lastDelete = removal.map((a) => a.includes('-D')).lastIndexOf(true);
  assert.ok(lastDelete < firstFlush);
  for (const chain of Object.values(chains).filter((c) => c !== chains.nat)) {
    assert.ok(removal.some((a) => a.includes('-X') && a.includes(chain)), chain);
  }
});

test('published ports spread over ready targets with decreasing probabilities', () => {
  const text = publishRestore('ML-x-PUB', [
    { hostIp: '0.0.0.0', hostPort: 8080, targets: ['10.77.0.2:80', '10.77.0.3:80', '10.77.0.4:80'] },
    { hostIp: '127.0.0.1', hostPort: 9090, targets: ['10.77.0.5:9000'] },
    { hostIp: '0.0.0.0', hostPort: 7070, targets: [] },
  ]);
  const lines = text.trim().split('\n');
  assert.equal(lines[1], ':ML-x-PUB - [0:0]');
  assert.equal(lines[2], '-A ML-x-PUB -p tcp -m tcp --dport 8080 -m statistic --mode random --probability 0.33333 -j DNAT --to-destination 10.77.0.2:80');
  assert.equal(lines[3], '-A ML-x-PUB -p tcp -m tcp --dport 8080 -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.77.0.3:80');
  assert.equal(lines[4], '-A ML-x-PUB -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.77.0.4:80');
  assert.equal(lines[5], '-A ML-x-PUB -d 127.0.0.1/32 -p tcp -m tcp --dport 9090 -j DNAT --to-destination 10.77.0.5:9000');
  assert.ok(!text.includes('7070'), 'a port with no ready pod gets no rule');
  assert.equal(lines.at(-1), 'COMMIT');
});

test('names are unique per state root and mesh, and fit Linux limits', () => {
  const a = meshNames('/run/meshlet', 'shop');
  const b = meshNames('/tmp/other', 'shop');
  assert.notEqual(a.tag, b.tag);
  for (const chain of Object.values(a.chains)) assert.ok(chain.length <= 28, chain);
});
