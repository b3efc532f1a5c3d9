// Bounds the distinct values a metric label may take (the cardinality budget): the first `max` values
// are kept, every later one is reported as OVERFLOW, so a client sending random paths cannot grow the
// metrics without bound.
export const OVERFLOW = '__overflow__';

export class LabelBudget {
  private readonly seen = new Set<string>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  /** The value to use as label: `value` itself while the budget lasts, else OVERFLOW. */
  admit(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OVERFLOW;
    this.seen.add(value);
    return value;
  }
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_-]{20,})$/i;

/**
 * A route template for a path: query dropped, id-like segments (numbers, hex, UUIDs, long tokens)
 * replaced by `:id`, at most 4 segments kept.
 * @example routeTemplate('/orders/123/items?x=1') // '/orders/:id/items'
 */
export function routeTemplate(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  if (p === '/' || p === '') return '/';
  const segments = p.split('/');
  let out = '';
  let n = 0;
  for (let i = 1; i < segments.length && n < 4; i++, n++) {
    const s = segments[i] as string;
    out += '/' + (ID_SEGMENT.test(s) ? ':id' : s.length > 40 ? ':long' : s);
  }
  if (segments.length - 1 > 4) out += '/*';
  return out;
}
