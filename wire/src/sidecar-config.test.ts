import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_API, sidecarConfigSchema, spiffeId, withoutPrivateKey } from './sidecar-config.ts';

test('a minimal config gets the documented defaults', () => {
  const config = sidecarConfigSchema.parse({ service: 'orders', app: '127.0.0.1:8080' });
  assert.deepEqual(config.listen, { inbound: '127.0.0.1:15006', outbound: '127.0.0.1:15001', admin: '127.0.0.1:15000' });
  assert.equal(config.collector, null);
  assert.equal(config.limits.maxRetryBodyBytes, 64 * 1024);
  assert.equal(config.limits.maxHeaderBytes, 16 * 1024);
  assert.deepEqual(config.destinations, {});
  assert.equal(config.tls, null);
});

test('destinations fill retry, budget and outlier defaults', () => {
  const config = sidecarConfigSchema.parse({
    service: 'orders',
    app: null,
    destinations: { payments: { vip: '10.78.0.3', port: 8080, endpoints: [{ address: '10.77.0.5:15006', version: 'blue' }] } },
  });
  const payments = config.destinations['payments'];
  assert.ok(payments);
  assert.equal(payments.endpoints[0]?.ready, true);
  assert.deepEqual(payments.retryBudget, { ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 });
  assert.equal(payments.retry.maxRetries, 2);
  assert.equal(payments.outlier.consecutiveFailures, 5);
});

test('every problem of a bad config is listed', () => {
  const result = sidecarConfigSchema.safeParse({
    service: 'Orders!',
    app: 'nowhere',
    limits: { maxHeaderBytes: -1 },
    destinations: { payments: { endpoints: [{ address: 'x' }], retry: { retryOn: ['sometimes'] } } },
    surprise: true,
  });
  assert.equal(result.success, false);
  if (result.success) return;
  const paths = result.error.issues.map((i) => i.path.join('.')).sort();
  assert.deepEqual(paths, ['', 'app', 'destinations.payments.endpoints.0.address', 'destinations.payments.retry.retryOn.0', 'limits.maxHeaderBytes', 'service']);
});

test('config API paths and SPIFFE ids', () => {
  assert.equal(CONFIG_API.podConfigPath('orders-1'), '/v1/pods/orders-1/config');
  assert.equal(spiffeId('shop', 'payments'), 'spiffe://shop/svc/payments');
});

test('withoutPrivateKey: only the key is replaced, the config itself is left as it was', () => {
  const tls = { certPem: 'CERT', keyPem: 'THE KEY', caPem: 'CA', identity: 'spiffe://m/svc/web' };
  const config = sidecarConfigSchema.parse({ service: 'web', app: '127.0.0.1:8080', tls });
  const shown = withoutPrivateKey(config);
  assert.deepEqual(shown.tls, { certPem: 'CERT', keyPem: '(redacted)', caPem: 'CA', identity: 'spiffe://m/svc/web' });
  assert.deepEqual({ ...shown, tls: null }, { ...config, tls: null });
  assert.equal(config.tls?.keyPem, 'THE KEY');
  const plain = sidecarConfigSchema.parse({ service: 'web', app: '127.0.0.1:8080' });
  assert.equal(withoutPrivateKey(plain), plain);
});
