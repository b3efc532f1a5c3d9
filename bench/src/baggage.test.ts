import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRunId, RUN_ID_PATTERN, withRunBaggage } from './baggage.ts';

test('the run entry is added, or replaces an older one in place, other entries kept', () => {
  assert.equal(withRunBaggage(undefined, 'r1'), 'meshlet.run=r1');
  assert.equal(withRunBaggage('tenant=acme', 'r1'), 'tenant=acme,meshlet.run=r1');
  assert.equal(withRunBaggage('a=1, meshlet.run=old ,b=2;p=1', 'r2'), 'a=1,meshlet.run=r2,b=2;p=1');
});

test('generated run ids are readable and valid as ids', () => {
  const id = newRunId('steady', new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), () => 0.999);
  assert.equal(id, 'steady-20250102-030405-ffbe');
  assert.match(id, RUN_ID_PATTERN);
});
