import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocateIp, allocateIps, isPodAddress, subnetLayout } from './ipam.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';

test('the bridge takes the first address, the prober the last, pods the rest', () => {
  const l = subnetLayout('10.77.0.0/16');
  assert.equal(l.bridgeIp, '10.77.0.1');
  assert.equal(l.probeIp, '10.77.255.254');
  assert.equal(allocateIp(l, new Set()), '10.77.0.2');
  assert.ok(!isPodAddress(l, l.bridgeIp));
  assert.ok(!isPodAddress(l, l.probeIp));
});

test('released addresses are reused, lowest first', () => {
  const l = subnetLayout('10.9.0.0/24');
  const [a, b, c] = allocateIps(l, new Set(), 3);
  assert.deepEqual([a, b, c], ['10.9.0.2', '10.9.0.3', '10.9.0.4']);
  // b released: the next allocation takes it again, then continues after c.
  assert.equal(allocateIp(l, new Set([a as string, c as string])), '10.9.0.3');
  assert.equal(allocateIp(l, new Set([a as string, b as string, c as string])), '10.9.0.5');
});

test('an exhausted subnet is a clear error', () => {
  const l = subnetLayout('10.9.0.0/29'); // hosts .1-.6: bridge .1, prober .6, pods .2-.5
  const all = allocateIps(l, new Set(), 4);
  assert.deepEqual(all, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5']);
  assert.throws(() => allocateIp(l, new Set(all)), (err: unknown) => err instanceof RuntimeError && err.code === ERROR_CODES.ipamExhausted);
});

test('property: allocations never collide and never hand out reserved addresses', () => {
  const l = subnetLayout('10.50.0.0/26');
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(40)), { maxLength: 80 }), (ops) => {
      const used = new Set<string>();
      for (const [alloc, n] of ops) {
        if (alloc && used.size < 60) {
          const ip = allocateIp(l, used);
          assert.ok(!used.has(ip));
          assert.ok(isPodAddress(l, ip));
          used.add(ip);
        } else if (used.size > 0) {
          used.delete([...used][n % used.size] as string);
        }
      }
    }),
  );
});
