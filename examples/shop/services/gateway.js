// gateway: the shop's public API (published on the host). Browsing goes to catalog (and, for a
// product page, recommendations); carts and checkout go to cart.
import { HttpError, serve } from './lib/shop-http.js';

const cartId = (body) => (typeof body?.cartId === 'string' && /^[\w-]{1,64}$/.test(body.cartId) ? body.cartId : 'default');

serve({
  routes: {
    'GET /': () => ({
      shop: 'meshlet demo shop',
      endpoints: ['GET /api/products', 'GET /api/products/:id', 'GET /api/cart/:id', 'POST /api/cart/items {cartId, productId, quantity}', 'POST /api/checkout {cartId, items?}'],
    }),
    'GET /api/products': async ({ call, query }) => {
      const r = await call('catalog', `/products${query.has('category') ? `?category=${encodeURIComponent(query.get('category'))}` : ''}`);
      return { status: 200, headers: { 'x-catalog-version': r.headers['x-catalog-version'] ?? '' }, body: r.body };
    },
    'GET /api/products/:id': async ({ call, params }) => {
      if (!/^\d+$/.test(params.id)) throw new HttpError(404, `no product ${params.id}`);
      // Recommendations are nice to have: a product page still renders without them.
      const [product, recommended] = await Promise.all([
        call('catalog', `/products/${params.id}`),
        call('recommendations', `/recommendations/${params.id}`).then((r) => r.body.recommendations, () => []),
      ]);
      return { status: 200, headers: { 'x-catalog-version': product.headers['x-catalog-version'] ?? '' }, body: { ...product.body, recommendations: recommended } };
    },
    'GET /api/cart/:id': async ({ call, params }) => (await call('cart', `/carts/${encodeURIComponent(params.id)}`)).body,
    'POST /api/cart/items': async ({ call, body }) => {
      const r = await call('cart', `/carts/${cartId(body)}/items`, { method: 'POST', body: { productId: body?.productId, quantity: body?.quantity ?? 1 } });
      return { status: r.status, body: r.body };
    },
    'POST /api/checkout': async ({ call, body }) => {
      const r = await call('cart', `/carts/${cartId(body)}/checkout`, { method: 'POST', body: { items: body?.items } });
      return { status: r.status, body: r.body };
    },
  },
});
