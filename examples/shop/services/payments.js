// payments: charges an order's total. A leaf service that takes a while, like a card processor.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, serve } from './lib/shop-http.js';

const KEEP = 1000; // charges remembered for GET /charges/:id
const charges = new Map();

serve({
  routes: {
    'POST /charges': async ({ body }) => {
      if (!Number.isInteger(body?.amountCents) || body.amountCents <= 0) throw new HttpError(400, 'a charge needs a positive integer amountCents');
      await sleep(10 + Math.random() * 30); // the processor's round trip
      const charge = { chargeId: randomUUID(), orderId: body.orderId ?? null, amountCents: body.amountCents, currency: body.currency ?? 'EUR', status: 'captured' };
      charges.set(charge.chargeId, charge);
      if (charges.size > KEEP) charges.delete(charges.keys().next().value);
      return { status: 201, body: charge };
    },
    'GET /charges/:id': ({ params }) => {
      const charge = charges.get(params.id);
      if (charge === undefined) throw new HttpError(404, `no charge ${params.id}`);
      return charge;
    },
  },
});
