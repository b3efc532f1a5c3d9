import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, hostAddress, hostIndex, ipToNumber, loopbackTwin, numberToIp, parseCidr } from './cidr.ts';

test('parses and normalises CIDRs', () => {
  const c = parseCidr('10.77.3.4/16');
  assert.equal(c.text, '10.77.0.0/16');
  assert.equal(c.size, 65534);
  assert.equal(numberToIp(c.broadcast), '10.77.255.255');
  assert.equal(parseCidr('0.0.0.0/0').size, 2 ** 32 - 2);
  assert.throws(() => parseCidr('10.0.0.0'), /not an IPv4 CIDR/);
  assert.throws(() => parseCidr('10.0.0.300/8'), /not an IPv4 address/);
  assert.throws(() => parseCidr('10.0.0.0/33'), /not an IPv4 CIDR/);
});

test('host addresses, containment and overlap', () => {
  const c = parseCidr('192.168.10.0/24');
  assert.equal(hostAddress(c, 1), '192.168.10.1');
  assert.equal(hostAddress(c, 254), '192.168.10.254');
  assert.throws(() => hostAddress(c, 255), /outside/);
  assert.equal(hostIndex(c, '192.168.10.42'), 42);
  assert.ok(cidrContains(c, '192.168.10.255'));
  assert.ok(!cidrContains(c, '192.168.11.0'));
  assert.ok(cidrsOverlap(parseCidr('10.0.0.0/8'), parseCidr('10.77.0.0/16')));
  assert.ok(!cidrsOverlap(parseCidr('10.77.0.0/16'), parseCidr('10.78.0.0/16')));
  assert.equal(ipToNumber('255.255.255.255'), 2 ** 32 - 1);
});

test('loopback twin keeps the offsets', () => {
  assert.equal(loopbackTwin(parseCidr('10.77.0.0/16')).text, '127.77.0.0/16');
  assert.equal(loopbackTwin(parseCidr('172.16.4.0/24')).text, '127.16.4.0/24');
  assert.throws(() => loopbackTwin(parseCidr('10.0.0.0/7')), /wider than \/8/);
});
