import assert from 'node:assert/strict';
import test from 'node:test';
import { createWaker } from './wake.ts';

test('waker: a wait ends at its timeout, or at once on wake; a wake with no wait pending is not kept', async () => {
  const w = createWaker();
  let t0 = performance.now();
  await w.wait(30);
  assert.ok(performance.now() - t0 >= 25, 'without a wake, the wait lasts its time');

  t0 = performance.now();
  const waiting = w.wait(10_000);
  setTimeout(() => w.wake(), 20);
  await waiting;
  assert.ok(performance.now() - t0 < 5_000, 'a wake ends the wait long before its timeout');

  w.wake(); // nobody waits: nothing to end, and the next wait is not cut short by it
  t0 = performance.now();
  await w.wait(30);
  assert.ok(performance.now() - t0 >= 25);
});
