// catalog: the product list and product pages, with prices (pricing) and stock (inventory) fetched in
// parallel. Runs as two versions (blue, green) that differ in how they present the list; every
// response says which version answered (x-catalog-version), so a traffic shift can be watched.
import { HttpError, serve, settings } from './lib/shop-http.js';
import { PRODUCTS, productIds } from './lib/products.js';

const config = settings();
// green sorts by price and marks offers; blue lists by name.
const SORT = process.env.CATALOG_SORT ?? 'name';
const BADGES = process.env.CATALOG_BADGES === 'true';

const present = (p, priceCents, available) => ({
  id: p.id,
  name: p.name,
  category: p.category,
  priceCents,
  inStock: available > 0,
  ...(BADGES && priceCents < p.basePriceCents ? { badge: 'offer' } : {}),
});

serve({
  config,
  routes: {
    'GET /products': async ({ call, query }) => {
      const category = query.get('category');
      const list = category === null ? PRODUCTS : PRODUCTS.filter((p) => p.category === category);
      const ids = list.map((p) => p.id).join(',');
      if (ids === '') return { version: config.version, products: [] };
      const [prices, stock] = await Promise.all([call('pricing', `/prices?ids=${ids}`), call('inventory', `/stock?ids=${ids}`)]);
      const products = list.map((p) => present(p, prices.body.prices[p.id], stock.body.stock[p.id]));
      products.sort(SORT === 'price' ? (a, b) => a.priceCents - b.priceCents : (a, b) => a.name.localeCompare(b.name));
      return { version: config.version, currency: prices.body.currency, products };
    },
    'GET /products/:id': async ({ call, params }) => {
      const [id] = productIds(params.id) ?? [];
      if (id === undefined) throw new HttpError(404, `no product ${params.id}`);
      const [price, stock] = await Promise.all([call('pricing', `/prices/${id}`), call('inventory', `/stock/${id}`)]);
      return { version: config.version, currency: price.body.currency, product: { ...present(PRODUCTS[id - 1], price.body.priceCents, stock.body.available), available: stock.body.available } };
    },
  },
});
