// cart: shopping carts and checkout. Adding an item checks stock (inventory) and price (pricing);
// checkout quotes the cart (pricing), charges it (payments) and reserves the goods (inventory).
// Carts live in memory, bounded (oldest dropped first).
import { randomUUID } from 'node:crypto';
import { HttpError, serve } from './lib/shop-http.js';
import { productIds } from './lib/products.js';

const MAX_CARTS = 1000;
const MAX_LINES = 20;
const MAX_QUANTITY = 99;
const carts = new Map();

function cartOf(id) {
  let cart = carts.get(id);
  if (cart === undefined) {
    cart = { id, items: [] };
    carts.set(id, cart);
    if (carts.size > MAX_CARTS) carts.delete(carts.keys().next().value);
  }
  return cart;
}

function item(input) {
  const [productId] = productIds(input?.productId) ?? [];
  const quantity = input?.quantity ?? 1;
  if (productId === undefined) throw new HttpError(400, `unknown product ${JSON.stringify(input?.productId)}`);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) throw new HttpError(400, `quantity must be 1–${MAX_QUANTITY}`);
  return { productId, quantity };
}

serve({
  routes: {
    'GET /carts/:id': ({ params }) => cartOf(params.id),
    'POST /carts/:id/items': async ({ params, body, call }) => {
      const wanted = item(body);
      const [stock, price] = await Promise.all([call('inventory', `/stock/${wanted.productId}`), call('pricing', `/prices/${wanted.productId}`)]);
      if (stock.body.available < wanted.quantity) throw new HttpError(409, `only ${stock.body.available} left of product ${wanted.productId}`);
      const cart = cartOf(params.id);
      const line = cart.items.find((l) => l.productId === wanted.productId);
      if (line !== undefined) line.quantity = Math.min(MAX_QUANTITY, line.quantity + wanted.quantity);
      else if (cart.items.length < MAX_LINES) cart.items.push({ ...wanted, unitCents: price.body.priceCents });
      else throw new HttpError(409, `a cart holds at most ${MAX_LINES} different products`);
      return { status: 201, body: cart };
    },
    'POST /carts/:id/checkout': async ({ params, body, call }) => {
      const cart = cartOf(params.id);
      // A cart's own items, else the items sent with the checkout ("buy now").
      const items = cart.items.length > 0 ? cart.items.map(item) : Array.isArray(body?.items) ? body.items.map(item) : [];
      if (items.length === 0) throw new HttpError(400, `cart ${params.id} is empty`);
      const orderId = randomUUID();
      const quote = await call('pricing', '/quotes', { method: 'POST', body: { items } });
      const charge = await call('payments', '/charges', { method: 'POST', body: { orderId, amountCents: quote.body.totalCents, currency: quote.body.currency } });
      await call('inventory', '/reservations', { method: 'POST', body: { orderId, items } });
      cart.items = [];
      return { status: 201, body: { orderId, totalCents: quote.body.totalCents, currency: quote.body.currency, chargeId: charge.body.chargeId, items } };
    },
  },
});
