// The shop's services as plain processes on loopback (no mesh, no root): the shop's API works end to
// end, trace context is forwarded onto every outbound call (and dropped by the legacy variant), failures
// of a dependency come back as 502s naming it, calls go through HTTP_PROXY when it is set, and every
// request of the load scenarios (the shopper's and bench/k6's) passes its checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHOP_DIR, startRecorder, startService, startShop, stopService } from './local-shop.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const CONTEXT = { traceparent: TRACEPARENT, tracestate: 'vendor=abc', baggage: 'meshlet.run=r1,tenant=acme', 'x-request-id': 'req-42' };

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

test('the shop serves its API end to end', { timeout: 120_000 }, async (t) => {
  const shop = await startShop();
  t.after(() => shop.close());
  const gw = shop.url('gateway');

  const list = await fetch(`${gw}/api/products`);
  assert.equal(list.status, 200);
  assert.equal(list.headers.get('x-catalog-version'), 'blue');
  const products = (await json(list))['products'] as { id: number; priceCents: number; inStock: boolean }[];
  assert.equal(products.length, 12);
  assert.ok(products.every((p) => p.priceCents > 0 && p.inStock));

  const coffee = (await json(await fetch(`${gw}/api/products?category=coffee`)))['products'] as { category: string }[];
  assert.ok(coffee.length > 0 && coffee.every((p) => p.category === 'coffee'));

  const page = await json(await fetch(`${gw}/api/products/3`));
  assert.equal((page['product'] as { id: number }).id, 3);
  assert.equal((page['recommendations'] as unknown[]).length, 3);
  assert.equal((await fetch(`${gw}/api/products/99`)).status, 404);

  const post = (path: string, body: unknown) => fetch(`${gw}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const added = await post('/api/cart/items', { cartId: 't1', productId: 4, quantity: 2 });
  assert.equal(added.status, 201);
  assert.deepEqual(((await json(added))['items'] as { productId: number; quantity: number }[]).map((i) => [i.productId, i.quantity]), [[4, 2]]);
  assert.equal((await post('/api/cart/items', { cartId: 't1', productId: 'x' })).status, 400);

  const order = await post('/api/checkout', { cartId: 't1' });
  assert.equal(order.status, 201);
  const o = await json(order);
  assert.ok(typeof o['chargeId'] === 'string' && (o['totalCents'] as number) > 0);
  assert.deepEqual((await json(await fetch(`${gw}/api/cart/t1`)))['items'], []);
  // An empty cart cannot be checked out, unless the checkout names its items ("buy now").
  assert.equal((await post('/api/checkout', { cartId: 't1' })).status, 400);
  assert.equal((await post('/api/checkout', { cartId: 't1', items: [{ productId: 5, quantity: 3 }] })).status, 201);

  for (const s of Object.values(shop.services)) {
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200, s.name);
  }
});

test('trace context is forwarded onto every outbound call; the legacy variant drops it', { timeout: 120_000 }, async (t) => {
  const inventory = await startRecorder((_m, path) => ({ status: 200, body: path.startsWith('/stock?') ? { stock: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [i + 1, 10])) } : { id: 3, available: 10 } }));
  t.after(() => inventory.close());
  const shop = await startShop({ replace: { inventory: inventory.url } });
  t.after(() => shop.close());

  // gateway → catalog → inventory, and gateway → recommendations → inventory.
  const r = await fetch(`${shop.url('gateway')}/api/products/3`, { headers: CONTEXT });
  assert.equal(r.status, 200);
  const fromCatalog = inventory.requests.find((q) => q.url === '/stock/3');
  const fromRecommendations = inventory.requests.find((q) => q.url.startsWith('/stock?ids='));
  assert.ok(fromCatalog !== undefined && fromRecommendations !== undefined, JSON.stringify(inventory.requests.map((q) => q.url)));
  for (const [name, value] of Object.entries(CONTEXT)) assert.equal(fromCatalog.headers[name], value, name);
  for (const name of Object.keys(CONTEXT)) assert.equal(fromRecommendations.headers[name], undefined, name);
});

test('a failing or missing dependency becomes a 502 that names it', { timeout: 120_000 }, async (t) => {
  const payments = await startRecorder(() => ({ status: 503, body: { error: 'unavailable' } }));
  t.after(() => payments.close());
  const shop = await startShop({ replace: { payments: payments.url } });
  t.after(() => shop.close());
  const checkout = await fetch(`${shop.url('gateway')}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cartId: 'x', items: [{ productId: 1, quantity: 1 }] }) });
  assert.equal(checkout.status, 502);
  assert.equal((await json(checkout))['dependency'], 'cart');
  // cart said why: payments failed.
  assert.match(shop.services['cart']?.output() ?? '', /"msg":"payments failed with 503"/);

  await stopService(shop.services['inventory'] as never);
  const list = await fetch(`${shop.url('gateway')}/api/products`);
  assert.equal(list.status, 502);
  assert.match(shop.services['catalog']?.output() ?? '', /inventory unreachable: .*ECONNREFUSED/);
});

test('with HTTP_PROXY set, calls go to the proxy in absolute form (process isolation)', { timeout: 60_000 }, async (t) => {
  const proxy = await startRecorder(() => ({ status: 200, body: { prices: { 1: 100 }, stock: { 1: 5 }, currency: 'EUR' } }));
  t.after(() => proxy.close());
  const catalog = await startService('catalog', { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost', PRICING_URL: 'http://pricing:8080' });
  t.after(() => stopService(catalog));
  const r = await fetch(`${catalog.url}/products?category=coffee`, { headers: { traceparent: TRACEPARENT } });
  await r.arrayBuffer();
  const urls = proxy.requests.map((q) => q.url).sort();
  assert.deepEqual(urls, ['http://inventory:8080/stock?ids=1,2,9', 'http://pricing:8080/prices?ids=1,2,9']);
  assert.ok(proxy.requests.every((q) => q.headers.traceparent === TRACEPARENT && (q.headers.host === 'pricing:8080' || q.headers.host === 'inventory:8080')));
});

test('every request of the load scenarios (the shopper and bench/k6) passes its checks', { timeout: 120_000 }, async (t) => {
  const files = [join(SHOP_DIR, 'load.json'), ...['smoke', 'steady', 'spike', 'blue-green'].map((n) => join(SHOP_DIR, '..', '..', 'bench', 'k6', 'scenarios', `${n}.json`))];
  const shop = await startShop();
  t.after(() => shop.close());
  for (const file of files) {
    const scenario = JSON.parse(await readFile(file, 'utf8')) as {
      requests: { name: string; method?: string; path: string; body?: unknown; checks: Record<string, { status?: number | number[]; bodyIncludes?: string }> }[];
    };
    for (const r of scenario.requests) {
      const res = await fetch(`${shop.url('gateway')}${r.path}`, {
        method: r.method ?? 'GET',
        ...(r.body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) }),
      });
      const text = await res.text();
      for (const [check, c] of Object.entries(r.checks)) {
        if (c.status !== undefined) assert.ok([c.status].flat().includes(res.status), `${file}: ${r.name}: ${check} (got ${res.status}: ${text})`);
        if (c.bodyIncludes !== undefined) assert.ok(text.includes(c.bodyIncludes), `${file}: ${r.name}: ${check}`);
      }
    }
  }
});
