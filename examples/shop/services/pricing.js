// pricing: prices of products and quotes for a list of items. A leaf service (calls nobody).
import { HttpError, serve } from './lib/shop-http.js';
import { PRODUCTS, productIds } from './lib/products.js';

const CURRENCY = 'EUR';
// Today's offer: one category at 10 % off, so the catalog has something to show.
const ON_SALE = 'equipment';
const priceOf = (id) => {
  const p = PRODUCTS.find((x) => x.id === id);
  return p.category === ON_SALE ? Math.round(p.basePriceCents * 0.9) : p.basePriceCents;
};

serve({
  routes: {
    'GET /prices': ({ query }) => {
      const ids = query.has('ids') ? productIds(query.get('ids')) : PRODUCTS.map((p) => p.id);
      if (ids === undefined) throw new HttpError(400, `unknown product in ids=${query.get('ids')}`);
      return { currency: CURRENCY, prices: Object.fromEntries(ids.map((id) => [id, priceOf(id)])) };
    },
    'GET /prices/:id': ({ params }) => {
      const [id] = productIds(params.id) ?? [];
      if (id === undefined) throw new HttpError(404, `no product ${params.id}`);
      return { id, priceCents: priceOf(id), currency: CURRENCY, onSale: PRODUCTS[id - 1].category === ON_SALE };
    },
    'POST /quotes': ({ body }) => {
      const items = body?.items;
      if (!Array.isArray(items) || items.length === 0) throw new HttpError(400, 'a quote needs items: [{ productId, quantity }]');
      const lines = items.map((item) => {
        const [id] = productIds(item.productId) ?? [];
        if (id === undefined || !Number.isInteger(item.quantity) || item.quantity < 1) throw new HttpError(400, `bad item ${JSON.stringify(item)}`);
        return { productId: id, quantity: item.quantity, unitCents: priceOf(id), totalCents: priceOf(id) * item.quantity };
      });
      const subtotal = lines.reduce((s, l) => s + l.totalCents, 0);
      const shippingCents = subtotal >= 5000 ? 0 : 490;
      return { currency: CURRENCY, lines, shippingCents, totalCents: subtotal + shippingCents };
    },
  },
});
