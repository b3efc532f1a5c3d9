import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outlierSchema, type EndpointConfig } from '@meshlet/wire';
import { Balancer, type Endpoint } from './balance.ts';
import type { Target } from './service.ts';

const pool = {} as Target['pool'];
const eps = (...addresses: string[]): EndpointConfig[] => addresses.map((address) => ({ address, ready: true }));

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function setup(outlier = {}) {
  const clock = { now: 0 };
  const ejected: string[] = [];
  const b = new Balancer('payments', outlierSchema.parse(outlier), { now: () => clock.now, random: seeded(7), onEject: (e) => ejected.push(e.address) });
  return { b, clock, ejected };
}

test('P2C over peak-EWMA sends most traffic to the faster endpoint', () => {
  const { b, clock } = setup();
  b.update(eps('fast:1', 'slow:1', 'mid:1'), outlierSchema.parse({}), () => pool);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 3000; i++) {
    clock.now += 1;
    const e = b.pick(null);
    counts[e.address] = (counts[e.address] ?? 0) + 1;
    b.release(e, true, e.address === 'fast:1' ? 1 : e.address === 'mid:1' ? 10 : 100);
  }
  assert.ok((counts['fast:1'] ?? 0) > (counts['mid:1'] ?? 0) && (counts['mid:1'] ?? 0) > (counts['slow:1'] ?? 0), JSON.stringify(counts));
  assert.ok((counts['slow:1'] ?? 0) > 0, 'the slow endpoint still gets some traffic to be measured');
});

test('in-flight requests count: a busy endpoint is avoided', () => {
  const { b } = setup();
  b.update(eps('a:1', 'b:1'), outlierSchema.parse({}), () => pool);
  const first = b.pick(null);
  for (let i = 0; i < 5; i++) {
    b.pick(null); // not released: pending grows
  }
  const other = first.address === 'a:1' ? 'b:1' : 'a:1';
  const pendings = b.all().map((e) => e.pending);
  assert.ok(Math.abs((pendings[0] ?? 0) - (pendings[1] ?? 0)) <= 1, `balanced in-flight counts ${pendings.join(',')} (${other})`);
});

test('consecutive failures eject; a recovery probe after the ejection time restores', () => {
  const { b, clock, ejected } = setup({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionPercent: 50 });
  b.update(eps('a:1', 'b:1'), outlierSchema.parse({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionPercent: 50 }), () => pool);
  const a = b.all()[0]!;
  for (let i = 0; i < 3; i++) {
    a.pending++;
    b.release(a, false, null);
  }
  assert.deepEqual(ejected, ['a:1']);
  for (let i = 0; i < 50; i++) {
    const e = b.pick(null);
    assert.equal(e.address, 'b:1', 'ejected endpoints get no traffic');
    b.release(e, true, 1);
  }
  // 50 % of 2 endpoints: the second cannot be ejected too.
  const bEp = b.all()[1]!;
  for (let i = 0; i < 5; i++) {
    bEp.pending++;
    b.release(bEp, false, null);
  }
  assert.deepEqual(ejected, ['a:1']);
  bEp.consecutiveFailures = 0;
  clock.now += 1001;
  const picks = new Set<string>();
  let probe = null;
  for (let i = 0; i < 40; i++) {
    const e = b.pick(null);
    picks.add(e.address);
    if (e.address === 'a:1') probe = e;
    else b.release(e, true, 1);
  }
  assert.ok(probe !== null, 'the expired endpoint is probed');
  assert.equal(b.all()[0]!.pending, 1, 'exactly one probe at a time');
  b.release(probe, true, 1);
  assert.equal(b.all()[0]!.ejectedUntilMs, 0, 'the probe succeeded: restored');
});

test('a failed probe ejects for longer; all ejected is circuit_open; none ready is no_endpoints', () => {
  const { b, clock } = setup();
  const outlier = outlierSchema.parse({ consecutiveFailures: 1, baseEjectionMs: 1000 });
  b.update(eps('a:1'), outlier, () => pool);
  const a = b.pick(null);
  b.release(a, false, null);
  assert.throws(() => b.pick(null), { code: 'ERR_PROXY_CIRCUIT_OPEN' });
  clock.now += 1001;
  const probe = b.pick(null);
  b.release(probe, false, null);
  assert.equal(probe.timesEjected, 2);
  assert.equal(probe.ejectedUntilMs, clock.now + 2000);
  b.update([{ address: 'a:1', ready: false }], outlier, () => pool);
  assert.throws(() => b.pick(null), { code: 'ERR_PROXY_NO_ENDPOINTS' });
  b.update([], outlier, () => pool);
  assert.throws(() => b.pick(null), { code: 'ERR_PROXY_NO_ENDPOINTS' });
});

test('versions: pick stays inside the version asked for', () => {
  const { b } = setup();
  b.update([{ address: 'blue:1', version: 'blue', ready: true }, { address: 'green:1', version: 'green', ready: true }], outlierSchema.parse({}), () => pool);
  for (let i = 0; i < 20; i++) {
    const e = b.pick('green');
    assert.equal(e.address, 'green:1');
    b.release(e, true, 1);
  }
  assert.deepEqual([...b.readyVersions()].sort(), ['blue', 'green']);
});

test('an endpoint that answers badly or slowly stays while it is the last of its version; an unreachable one is ejected', () => {
  const { b, ejected } = setup();
  const outlier = outlierSchema.parse({ consecutiveFailures: 2, baseEjectionMs: 1000 });
  const fail = (version: string | null, failure: 'unreachable' | 'degraded') => {
    const e = b.pick(version);
    b.release(e, false, 3, failure);
    return e.address;
  };
  b.update(eps('solo:1'), outlier, () => pool);
  for (let i = 0; i < 6; i++) fail(null, 'degraded');
  assert.deepEqual(ejected, [], 'a lone endpoint that answers 5xx or too slowly keeps its traffic');
  fail(null, 'unreachable');
  assert.deepEqual(ejected, ['solo:1'], 'a lone endpoint that cannot be reached is ejected (fails fast)');
  assert.throws(() => b.pick(null), { code: 'ERR_PROXY_CIRCUIT_OPEN' });

  // Two of one version: the failing one may go, the other takes the traffic.
  ejected.length = 0;
  b.update([{ address: 'blue:1', version: 'blue', ready: true }, { address: 'blue:2', version: 'blue', ready: true }, { address: 'green:1', version: 'green', ready: true }], outlierSchema.parse({ consecutiveFailures: 2, baseEjectionMs: 1000, maxEjectionPercent: 100 }), () => pool);
  const endpoint = (address: string) => b.all().find((e) => e.address === address) as Endpoint;
  const failAt = (address: string, times: number) => {
    for (let i = 0; i < times; i++) {
      endpoint(address).pending++; // as pick() does
      b.release(endpoint(address), false, 3, 'degraded');
    }
  };
  failAt('blue:1', 2);
  assert.deepEqual(ejected, ['blue:1']);
  failAt('blue:2', 5);
  assert.deepEqual(ejected, ['blue:1'], 'the last blue endpoint keeps answering');
  for (let i = 0; i < 3; i++) assert.equal(fail('blue', 'degraded'), 'blue:2');
  // green is alone in its version, whatever blue has: kept too.
  failAt('green:1', 5);
  assert.deepEqual(ejected, ['blue:1']);
});
