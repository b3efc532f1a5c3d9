// A 50-service mesh (six layers behind one edge service) for the graph's readability test, with one
// service deep in the graph whose app fails now and then.
import { MeshSim, type CallPlan, type ServePlan } from './mesh-sim.ts';
import { OtelSender, seededRandom, type PodIdentity } from './otel-sender.ts';

const WORDS = [
  'edge', 'auth', 'users', 'orders', 'search', 'catalog', 'cart', 'pricing', 'tax', 'promo', 'inventory', 'shipping', 'billing',
  'payments', 'fraud', 'ledger', 'invoices', 'notify', 'email', 'sms', 'push', 'reviews', 'ratings', 'media', 'thumbs', 'cdn-sign',
  'recs', 'profile', 'prefs', 'session', 'audit', 'geo', 'currency', 'fx-rates', 'stock', 'warehouse', 'carriers', 'labels',
  'returns', 'refunds', 'loyalty', 'coupons', 'wishlist', 'feed', 'ads', 'analytics', 'events', 'quotas', 'flags', 'config',
];

export const WIDE_LAYERS = [1, 5, 9, 13, 12, 10];
export const WIDE_FAILING = 'ledger';

/** Sends 40 traces over 50 services ending `nowMs`; returns the service names. */
export async function sendWideFixture(otlpUrl: string, nowMs: number, seed = 5): Promise<{ services: string[] }> {
  const random = seededRandom(seed);
  const sender = new OtelSender(otlpUrl, random);
  const sim = new MeshSim(sender, random);
  const layers: PodIdentity[][] = [];
  let w = 0;
  for (const size of WIDE_LAYERS) {
    const layer: PodIdentity[] = [];
    for (let i = 0; i < size; i++, w++) {
      const name = WORDS[w]!;
      layer.push({ service: name, pod: `${name}-1`, ip: `10.77.1.${w + 2}`, mesh: 'wide', version: 'v1' });
    }
    layers.push(layer);
  }
  // Each service calls 1–3 services of the next layer; every service there has at least one caller.
  const callees = new Map<string, PodIdentity[]>();
  for (let l = 0; l < layers.length - 1; l++) {
    const next = layers[l + 1]!;
    const current = layers[l]!;
    next.forEach((callee, i) => {
      const caller = current[i % current.length]!;
      callees.set(caller.service, [...(callees.get(caller.service) ?? []), callee]);
    });
    for (const caller of current) {
      const extra = next[Math.floor(random() * next.length)]!;
      const list = callees.get(caller.service) ?? [];
      if (!list.includes(extra) && list.length < 3) callees.set(caller.service, [...list, extra]);
    }
  }
  const plan = (p: PodIdentity, depth: number): ServePlan => {
    const calls: CallPlan[] = (callees.get(p.service) ?? [])
      .filter(() => depth === 0 || random() < 0.7)
      .map((c) => ({ service: c.service, method: 'GET', route: `/${c.service}`, attempts: [{ kind: 'serve', plan: plan(c, depth + 1) }] }));
    const fails = p.service === WIDE_FAILING && random() < 0.3;
    return {
      pod: p,
      method: 'GET',
      route: `/${p.service}`,
      selfMs: 1 + random() * 8,
      calls,
      ...(fails ? { appFailure: { status: 500, log: 'ledger write conflict' } } : {}),
    };
  };
  for (let i = 0; i < 40; i++) sim.request(plan(layers[0]![0]!, 0), nowMs - 5 * 60_000 + i * 7000);
  await sender.close();
  return { services: layers.flat().map((p) => p.service) };
}
