// recommendations: "you may also like" for a product page — other products of its category that are
// in stock (inventory). The shop's legacy service: run with SHOP_PROPAGATE_CONTEXT=false it does
// not pass trace context on, as an app without instrumentation would, so its calls start new traces
// (the mesh's sidecar notices and reports that the service does not propagate context).
import { HttpError, serve } from './lib/shop-http.js';
import { PRODUCTS, productIds } from './lib/products.js';

serve({
  routes: {
    'GET /recommendations/:id': async ({ params, call }) => {
      const [id] = productIds(params.id) ?? [];
      if (id === undefined) throw new HttpError(404, `no product ${params.id}`);
      const product = PRODUCTS[id - 1];
      const others = PRODUCTS.filter((p) => p.id !== id);
      const candidates = [...others.filter((p) => p.category === product.category), ...others.filter((p) => p.category !== product.category)].slice(0, 6);
      const stock = await call('inventory', `/stock?ids=${candidates.map((p) => p.id).join(',')}`);
      const picks = candidates.filter((p) => stock.body.stock[p.id] > 0).slice(0, 3);
      return { productId: id, recommendations: picks.map((p) => ({ id: p.id, name: p.name })) };
    },
  },
});
