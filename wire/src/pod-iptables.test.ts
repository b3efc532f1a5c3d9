import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podIptablesRules } from './pod-iptables.ts';

const base = { sidecarUid: 1337, inboundPort: 15006, outboundPort: 15001 };

test('runtime pods: VIP range to 15001, the app port to 15006, the prober bypasses, lockdown on eth0', () => {
  const { restore, commands } = podIptablesRules({
    ...base,
    inboundInterface: 'eth0',
    inboundPorts: [8080],
    inboundBypassSources: ['10.77.255.254'],
    outboundCidrs: ['10.78.0.0/16'],
    lockdown: { interface: 'eth0', cidr: '10.77.0.0/16', allow: [{ ip: '10.77.0.1', port: 4318 }], inboundAllowPorts: [15006, 15000], bypassPorts: [8080] },
  });
  assert.equal(
    restore,
    [
      '*nat',
      ':MESHLET_INBOUND - [0:0]',
      ':MESHLET_OUTPUT - [0:0]',
      '-A PREROUTING -i eth0 -p tcp -j MESHLET_INBOUND',
      '-A MESHLET_INBOUND -s 10.77.255.254/32 -j RETURN',
      '-A MESHLET_INBOUND -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15006',
      '-A OUTPUT -p tcp -j MESHLET_OUTPUT',
      '-A MESHLET_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-A MESHLET_OUTPUT -d 10.78.0.0/16 -p tcp -j REDIRECT --to-ports 15001',
      'COMMIT',
      '*filter',
      ':MESHLET_INGRESS - [0:0]',
      ':MESHLET_EGRESS - [0:0]',
      '-A INPUT -i eth0 -j MESHLET_INGRESS',
      '-A MESHLET_INGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
      '-A MESHLET_INGRESS -p tcp -m tcp --dport 15006 -j ACCEPT',
      '-A MESHLET_INGRESS -p tcp -m tcp --dport 15000 -j ACCEPT',
      '-A MESHLET_INGRESS -s 10.77.255.254/32 -p tcp -m tcp --dport 8080 -j ACCEPT',
      '-A MESHLET_INGRESS -j REJECT',
      '-A OUTPUT -o eth0 -j MESHLET_EGRESS',
      '-A MESHLET_EGRESS -m owner --uid-owner 1337 -j RETURN',
      '-A MESHLET_EGRESS -m conntrack ! --ctstate NEW -j RETURN',
      '-A MESHLET_EGRESS -d 10.77.0.1/32 -p tcp -m tcp --dport 4318 -j RETURN',
      '-A MESHLET_EGRESS -d 10.77.0.0/16 -j REJECT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  // The argv form says the same: chains first, then the rules, table by table.
  assert.deepEqual(commands[0], ['iptables', '-w', '-t', 'nat', '-N', 'MESHLET_INBOUND']);
  assert.equal(commands.length, 2 + 6 + 2 + 11);
  assert.ok(commands.every((c) => c[0] === 'iptables' && c[1] === '-w'));
});

test('Kubernetes-style capture of everything, with exclusions', () => {
  const { restore } = podIptablesRules({
    ...base,
    inboundPorts: 'all',
    excludeInboundPorts: [15000, 15090],
    outboundCidrs: 'all',
    excludeOutboundCidrs: ['169.254.169.254/32'],
    excludeOutboundPorts: [53],
  });
  assert.match(restore, /-A PREROUTING ! -i lo -p tcp -j MESHLET_INBOUND/);
  // The sidecar's own ports are never redirected inbound, nor loopback outbound.
  for (const port of [15006, 15001, 15000, 15090]) assert.match(restore, new RegExp(`--dport ${port} -j RETURN`));
  assert.match(restore, /-A MESHLET_INBOUND -p tcp -j REDIRECT --to-ports 15006/);
  assert.match(restore, /-A MESHLET_OUTPUT -d 169\.254\.169\.254\/32 -j RETURN/);
  assert.match(restore, /-A MESHLET_OUTPUT -o lo -j RETURN\n-A MESHLET_OUTPUT -p tcp -j REDIRECT --to-ports 15001/);
  assert.doesNotMatch(restore, /\*filter/);
});

test('bad ports are refused', () => {
  assert.throws(() => podIptablesRules({ ...base, inboundPorts: [0], outboundCidrs: [] }), RangeError);
  assert.throws(() => podIptablesRules({ ...base, inboundPort: 70000, inboundPorts: [], outboundCidrs: [] }), RangeError);
});
