// Tags a request with its load-test run: the W3C `baggage` header gets `meshlet.run=<id>`, merged
// with whatever baggage the request already carries (the sidecar copies the entry onto its spans).
import { BAGGAGE } from '@meshlet/wire';
import { ROOT_CONTEXT, propagation, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';

const propagator = new W3CBaggagePropagator();
type Carrier = Record<string, string>;
const getter: TextMapGetter<Carrier> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};
const setter: TextMapSetter<Carrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Run ids: short, readable, and safe in a URL path and a baggage value without escaping. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * The `baggage` header value for a request of run `runId`: the existing entries (if any) kept,
 * `meshlet.run` set (replaced when present).
 * @example withRunBaggage('tenant=acme', 'steady-1') // 'tenant=acme,meshlet.run=steady-1'
 */
export function withRunBaggage(existing: string | undefined, runId: string): string {
  const context = existing === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, { baggage: existing }, getter);
  const baggage = (propagation.getBaggage(context) ?? propagation.createBaggage()).setEntry(BAGGAGE.run, { value: runId });
  const carrier: Carrier = {};
  propagator.inject(propagation.setBaggage(ROOT_CONTEXT, baggage), carrier, setter);
  return carrier.baggage ?? `${BAGGAGE.run}=${runId}`;
}

/**
 * A new run id: `<name>-<UTC yyyymmdd-hhmmss>-<4 hex>`, e.g. `steady-20250102-030405-9f2c`.
 * @example newRunId('steady', new Date(0), () => 0.5) // 'steady-19700101-000000-8000'
 */
export function newRunId(name: string, now: Date = new Date(), random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.floor(random() * 0x10000).toString(16).padStart(4, '0');
  return `${name}-${stamp}-${suffix}`;
}
