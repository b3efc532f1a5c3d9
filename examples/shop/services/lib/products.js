// The shop's product list (the catalog's data; pricing and inventory key their data by the same ids).
export const PRODUCTS = Object.freeze([
  { id: 1, name: 'Espresso beans, 1 kg', category: 'coffee', basePriceCents: 2490 },
  { id: 2, name: 'Filter coffee, 500 g', category: 'coffee', basePriceCents: 1190 },
  { id: 3, name: 'Hand grinder', category: 'equipment', basePriceCents: 6900 },
  { id: 4, name: 'Pour-over dripper', category: 'equipment', basePriceCents: 2400 },
  { id: 5, name: 'Paper filters (100)', category: 'supplies', basePriceCents: 590 },
  { id: 6, name: 'Gooseneck kettle', category: 'equipment', basePriceCents: 5400 },
  { id: 7, name: 'Milk jug, 350 ml', category: 'equipment', basePriceCents: 1800 },
  { id: 8, name: 'Descaler', category: 'supplies', basePriceCents: 990 },
  { id: 9, name: 'Decaf beans, 250 g', category: 'coffee', basePriceCents: 890 },
  { id: 10, name: 'Cups, set of 4', category: 'tableware', basePriceCents: 3200 },
  { id: 11, name: 'Scale with timer', category: 'equipment', basePriceCents: 4500 },
  { id: 12, name: 'Cold brew jar', category: 'equipment', basePriceCents: 2900 },
]);

/** Parses `?ids=1,2,3` (or a single id) into known product ids; throws on anything else. */
export function productIds(text) {
  const ids = String(text ?? '').split(',').filter(Boolean).map(Number);
  if (ids.length === 0 || ids.some((id) => !PRODUCTS.some((p) => p.id === id))) return undefined;
  return ids;
}
