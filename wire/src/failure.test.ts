import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_ERROR, FAILURE_REASONS, PROXY_REASONS, REASON_HINTS, REASON_STATUS, isFailureReason, isProxyReason, originOf } from './failure.ts';

test('every proxy reason has a status in the 4xx/5xx range and a hint', () => {
  for (const reason of PROXY_REASONS) {
    const status = REASON_STATUS[reason];
    assert.ok(status >= 400 && status <= 599, `${reason} → ${status}`);
    assert.ok(REASON_HINTS[reason].length > 20, `${reason} has a hint`);
  }
  assert.ok(REASON_HINTS[APP_ERROR].length > 20);
});

test('statuses follow the reason as DESIGN.md says', () => {
  assert.equal(REASON_STATUS.connect_refused, 502);
  assert.equal(REASON_STATUS.upstream_reset, 502);
  assert.equal(REASON_STATUS.no_endpoints, 503);
  assert.equal(REASON_STATUS.circuit_open, 503);
  assert.equal(REASON_STATUS.retry_budget_exhausted, 503);
  assert.equal(REASON_STATUS.request_timeout, 504);
  assert.equal(REASON_STATUS.unknown_service, 404);
  assert.equal(REASON_STATUS.denied, 403);
  assert.equal(REASON_STATUS.rate_limited, 429);
  assert.equal(REASON_STATUS.header_overflow, 431);
  assert.equal(REASON_STATUS.bad_request, 400);
});

test('reason guards and origins', () => {
  assert.equal(isProxyReason('no_endpoints'), true);
  assert.equal(isProxyReason(APP_ERROR), false);
  assert.equal(isProxyReason('NO_ENDPOINTS'), false);
  assert.equal(isFailureReason(APP_ERROR), true);
  assert.equal(isFailureReason(42), false);
  assert.equal(originOf(APP_ERROR), 'app');
  assert.equal(originOf('fault_injected'), 'proxy');
  assert.equal(new Set(FAILURE_REASONS).size, FAILURE_REASONS.length);
});
