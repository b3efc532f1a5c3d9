import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coversNodes, layoutGraph, mergeLayout, midpoint, type NodeBox } from './graph-layout.ts';

const shop = {
  nodes: ['payments', 'gateway', 'cart', 'catalog', 'pricing'].map((service) => ({ service, entry: service === 'gateway' })),
  edges: [
    { id: 'gateway->cart', from: 'gateway', to: 'cart' },
    { id: 'gateway->catalog', from: 'gateway', to: 'catalog' },
    { id: 'cart->payments', from: 'cart', to: 'payments' },
    { id: 'catalog->pricing', from: 'catalog', to: 'pricing' },
    { id: 'cart->ghost', from: 'cart', to: 'ghost' },
  ],
};

function overlaps(a: NodeBox, b: NodeBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

test('ELK lays the graph out left to right from the entry service, without overlaps, with routed edges', async () => {
  const layout = await layoutGraph(shop);
  const x = (s: string) => layout.nodes.get(s)!.x;
  assert.ok(x('gateway') < x('cart') && x('cart') < x('payments') && x('catalog') < x('pricing'));
  const boxes = [...layout.nodes.values()];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlaps(boxes[i]!, boxes[j]!));
  assert.equal(layout.edges.size, 4, 'edges to unknown nodes are left out');
  const route = layout.edges.get('cart->payments')!;
  assert.ok(route.points.length >= 2);
  assert.deepEqual(await layoutGraph(shop), layout, 'the same graph lays out the same way');
});

test('a new service is placed without moving any service already on screen', async () => {
  const before = await layoutGraph(shop);
  const grown = {
    nodes: [...shop.nodes, { service: 'search', entry: false }, { service: 'inventory', entry: false }],
    edges: [...shop.edges, { id: 'gateway->search', from: 'gateway', to: 'search' }, { id: 'cart->inventory', from: 'cart', to: 'inventory' }],
  };
  assert.equal(coversNodes(before, grown), false);
  const merged = mergeLayout(before, await layoutGraph(grown));
  for (const [service, box] of before.nodes) assert.deepEqual(merged.nodes.get(service), box, service);
  const all = [...merged.nodes.values()];
  for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) assert.ok(!overlaps(all[i]!, all[j]!), `${i} ${j}`);
  assert.ok(merged.edges.has('cart->payments'), 'routes between kept services stay');
  assert.ok(!merged.edges.has('gateway->search'), 'new edges are drawn as curves until a tidy layout');
  assert.equal(coversNodes(merged, grown), true);
});

test('midpoint of a polyline', () => {
  assert.deepEqual(midpoint([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }]), { x: 10, y: 0 });
  assert.deepEqual(midpoint([{ x: 0, y: 0 }, { x: 4, y: 0 }]), { x: 2, y: 0 });
});
