import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextShopTrace } from '../../test/fixtures/shop.ts';
import { seededRandom } from '../../test/fixtures/trace-builder.ts';
import { compactFacts, expandFacts, factsOf } from './facts.ts';

test('compact facts expand to the facts factsOf made, for every kind of shop span', () => {
  const random = seededRandom(7);
  let spans = 0;
  for (let i = 0; i < 300; i++) {
    // Start times with sub-µs nanoseconds, so the split of the start is checked.
    const trace = nextShopTrace({ random, startNs: 1_700_000_000_123_456_789n + BigInt(i) * 1_000_003n, run: i % 7 === 0 ? 'run-1' : undefined });
    for (const s of trace.spans) {
      const facts = factsOf(s);
      const compact = compactFacts(facts);
      assert.ok(compact !== undefined);
      assert.deepEqual(expandFacts(compact, s.traceId), facts);
      spans++;
    }
  }
  assert.ok(spans > 1000);
});

test('a span longer than 2^53 ns has no compact form (its duration would not stay exact)', () => {
  const [s] = nextShopTrace({ random: seededRandom(8), startNs: 1_000n }).spans;
  assert.ok(s !== undefined);
  assert.equal(compactFacts(factsOf({ ...s, endTimeUnixNano: 1_000n + 2n ** 53n - 1n })) !== undefined, true);
  assert.equal(compactFacts(factsOf({ ...s, endTimeUnixNano: 1_000n + 2n ** 53n + 1n })), undefined);
});
