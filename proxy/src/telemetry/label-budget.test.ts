import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelBudget, OVERFLOW, routeTemplate } from './label-budget.ts';

test('route templates hide ids', () => {
  assert.equal(routeTemplate('/orders/123/items?x=1'), '/orders/:id/items');
  assert.equal(routeTemplate('/u/0b5e1c9a-1234-4cde-8f00-1234567890ab'), '/u/:id');
  assert.equal(routeTemplate('/a/b/c/d/e/f'), '/a/b/c/d/*');
  assert.equal(routeTemplate('/'), '/');
  assert.equal(routeTemplate('/?q'), '/');
  assert.equal(routeTemplate('/t/deadbeefcafe'), '/t/:id');
});

test('past the budget, new values go to the overflow bucket', () => {
  const b = new LabelBudget(3);
  assert.deepEqual(['a', 'b', 'c', 'd', 'a', 'e'].map((v) => b.admit(v)), ['a', 'b', 'c', OVERFLOW, 'a', OVERFLOW]);
});
