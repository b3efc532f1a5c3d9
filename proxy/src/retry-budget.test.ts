import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryBudgetSchema } from '@meshlet/wire';
import { RetryBudget } from './retry-budget.ts';

test('retries stay within 20 % of requests plus 10/s over the window', () => {
  const clock = { now: 0 };
  const budget = new RetryBudget(retryBudgetSchema.parse({}), () => clock.now);
  let requests = 0;
  let retries = 0;
  // 60 s at 100 requests/s, every request wanting 2 retries.
  for (let ms = 0; ms < 60_000; ms += 10) {
    clock.now = ms;
    budget.deposit();
    requests++;
    for (let r = 0; r < 2; r++) if (budget.tryWithdraw()) retries++;
  }
  // Steady state per 10 s window: 0.2 × 1000 + 100 = 300 retries; 6 windows → at most ~1800.
  assert.ok(retries <= 0.2 * requests + 10 * 60 + 1, `${retries} retries for ${requests} requests`);
  assert.ok(retries >= 0.2 * requests, `the budget is used: ${retries}`);
});

test('with no traffic, the floor of 10 retries/s over 10 s still allows 100', () => {
  const budget = new RetryBudget(retryBudgetSchema.parse({}), () => 0);
  let n = 0;
  while (budget.tryWithdraw()) n++;
  assert.equal(n, 100);
  assert.equal(budget.usedRatio(), 1);
});

test('the window slides: old requests and retries expire', () => {
  const clock = { now: 0 };
  const budget = new RetryBudget(retryBudgetSchema.parse({ minRetriesPerSecond: 0 }), () => clock.now);
  for (let i = 0; i < 100; i++) budget.deposit();
  let n = 0;
  while (budget.tryWithdraw()) n++;
  assert.equal(n, 20);
  clock.now = 11_000;
  assert.equal(budget.tryWithdraw(), false, 'no requests in the new window');
  assert.equal(budget.used(), 0);
});
