// Adds (or subtracts) aggregate records: nested objects of counters. `firstMs` keeps the minimum and
// `lastMs` the maximum (on subtraction they are left as they were: a bucket's first/last seen time is a
// bound, not a count). Anything else numeric is summed; a key whose count reaches zero is removed.

export type Counters = { [key: string]: number | string | Counters | undefined };

/** Merges `delta` into `target` with `sign` (+1 add, -1 subtract), in place. Returns `target`. */
export function addInto(target: Counters, delta: Counters, sign: 1 | -1 = 1): Counters {
  mergeInto(target, delta, sign);
  return target;
}

/** `addInto`; returns true when it removed a key from `target` (only then can `target` have become empty). */
function mergeInto(target: Counters, delta: Counters, sign: 1 | -1): boolean {
  let removed = false;
  // for...in (no key array per call): this runs for every node, edge and point of every analysed trace.
  for (const key in delta) {
    const d = delta[key];
    if (d === undefined) continue;
    const t = target[key];
    if (typeof d === 'number') {
      if (key === 'firstMs') {
        if (sign > 0) target[key] = typeof t === 'number' ? Math.min(t, d) : d;
      } else if (key === 'lastMs') {
        if (sign > 0) target[key] = typeof t === 'number' ? Math.max(t, d) : d;
      } else {
        const next = (typeof t === 'number' ? t : 0) + sign * d;
        if (Math.abs(next) < 1e-9) {
          if (t !== undefined) removed = true;
          delete target[key];
        } else target[key] = next;
      }
    } else if (typeof d === 'string') {
      // Labels (e.g. a failure point's origin) are kept from the first record that had them.
      if (sign > 0 && t === undefined) target[key] = d;
    } else if (typeof t === 'object') {
      // Emptiness is looked for only after a removal: listing a large histogram's keys costs more than the merge.
      if (mergeInto(t, d, sign) && isEmpty(t)) {
        delete target[key];
        removed = true;
      }
    } else {
      const sub: Counters = {};
      mergeInto(sub, d, sign);
      if (!isEmpty(sub)) target[key] = sub;
      else if (t !== undefined) {
        delete target[key];
        removed = true;
      }
    }
  }
  return removed;
}

/** True when an object has no own enumerable key (without listing its keys: histograms have hundreds). */
function isEmpty(record: Counters): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return false;
  return true;
}

/** A number field of an aggregate, 0 when absent. */
export function n(record: Counters | undefined, key: string): number {
  const v = record?.[key];
  return typeof v === 'number' ? v : 0;
}

/** A nested counter map of an aggregate (empty when absent). */
export function map(record: Counters | undefined, key: string): Record<string, number> {
  const v = record?.[key];
  return typeof v === 'object' ? (v as Record<string, number>) : {};
}

/** A label (string field) of an aggregate, `''` when absent. */
export function label(record: Counters | undefined, key: string): string {
  const v = record?.[key];
  return typeof v === 'string' ? v : '';
}
