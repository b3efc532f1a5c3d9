import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshError, toMeshError } from './errors.ts';

test('undici and socket errors map to the failure vocabulary', () => {
  const cases: [string, string][] = [
    ['ECONNREFUSED', 'connect_refused'],
    ['UND_ERR_CONNECT_TIMEOUT', 'connect_timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'request_timeout'],
    ['UND_ERR_SOCKET', 'upstream_reset'],
    ['ECONNRESET', 'upstream_reset'],
    ['HPE_INVALID_CONTENT_LENGTH', 'upstream_reset'],
    ['ERR_PROXY_TLS_IDENTITY', 'upstream_reset'],
  ];
  for (const [code, reason] of cases) {
    const err = toMeshError(Object.assign(new Error('x'), { code }), 'payments', '10.77.0.5:15006');
    assert.equal(err.reason, reason, code);
    assert.equal(err.service, 'payments');
    assert.equal(err.endpoint, '10.77.0.5:15006');
    assert.equal(err.code, `ERR_PROXY_${reason.toUpperCase()}`);
  }
  const own = new MeshError('fault_injected', 'on purpose', { status: 418 });
  assert.equal(toMeshError(own, 'a', 'b'), own);
  assert.equal(own.status, 418);
  assert.equal(own.faultInjected, true);
});
