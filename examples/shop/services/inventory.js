// inventory: stock levels and reservations. A leaf service; stock is restocked as it runs low, so a
// long load test never runs the shop dry.
import { randomUUID } from 'node:crypto';
import { HttpError, serve } from './lib/shop-http.js';
import { PRODUCTS, productIds } from './lib/products.js';

const RESTOCK_BELOW = 5;
const RESTOCK_TO = 200;
const stock = new Map(PRODUCTS.map((p) => [p.id, 20 + ((p.id * 37) % 80)]));

serve({
  routes: {
    'GET /stock': ({ query }) => {
      const ids = query.has('ids') ? productIds(query.get('ids')) : PRODUCTS.map((p) => p.id);
      if (ids === undefined) throw new HttpError(400, `unknown product in ids=${query.get('ids')}`);
      return { stock: Object.fromEntries(ids.map((id) => [id, stock.get(id)])) };
    },
    'GET /stock/:id': ({ params }) => {
      const [id] = productIds(params.id) ?? [];
      if (id === undefined) throw new HttpError(404, `no product ${params.id}`);
      return { id, available: stock.get(id) };
    },
    'POST /reservations': ({ body }) => {
      const items = body?.items;
      if (!Array.isArray(items) || items.length === 0) throw new HttpError(400, 'a reservation needs items: [{ productId, quantity }]');
      for (const item of items) {
        const [id] = productIds(item.productId) ?? [];
        if (id === undefined) throw new HttpError(400, `unknown product ${item.productId}`);
        if ((stock.get(id) ?? 0) < item.quantity) throw new HttpError(409, `only ${stock.get(id)} of product ${id} left`, { productId: id });
      }
      for (const item of items) {
        const left = stock.get(item.productId) - item.quantity;
        stock.set(item.productId, left < RESTOCK_BELOW ? RESTOCK_TO : left);
      }
      return { status: 201, body: { reservationId: randomUUID(), orderId: body.orderId ?? null, items } };
    },
  },
});
