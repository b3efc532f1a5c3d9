// The `x-meshlet-fault` request header: asks a sidecar in test mode to inject a fault.
// Grammar: comma-separated `key=value` pairs:
//   abort=<status 200-599>   delay=<duration>   service=<destination>   percent=<0-100>
// e.g. `x-meshlet-fault: service=payments, abort=503` or `delay=2s`.
import { parseDurationMs } from './quantities.ts';

/** A fault asked for by header. `service` limits it to calls to that destination. */
export interface HeaderFault {
  service?: string;
  abortStatus?: number;
  delayMs?: number;
  percent: number;
}

/**
 * Parses the header value; returns an error string (for a 400 `bad_request`) when malformed.
 * @example parseFaultHeader('service=payments, abort=503') // { service: 'payments', abortStatus: 503, percent: 100 }
 */
export function parseFaultHeader(value: string): HeaderFault | { error: string } {
  const fault: HeaderFault = { percent: 100 };
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return { error: `expected key=value in x-meshlet-fault, got ${JSON.stringify(item)}` };
    const key = item.slice(0, eq).trim().toLowerCase();
    const raw = item.slice(eq + 1).trim();
    switch (key) {
      case 'abort': {
        const status = Number(raw);
        if (!Number.isInteger(status) || status < 200 || status > 599) return { error: `abort needs a status 200-599, got ${JSON.stringify(raw)}` };
        fault.abortStatus = status;
        break;
      }
      case 'delay': {
        const ms = parseDurationMs(raw);
        if (ms === undefined) return { error: `delay needs a duration such as 500ms, got ${JSON.stringify(raw)}` };
        fault.delayMs = ms;
        break;
      }
      case 'service':
        if (raw === '') return { error: 'service needs a name' };
        fault.service = raw;
        break;
      case 'percent': {
        const pct = Number(raw);
        if (!(pct >= 0 && pct <= 100)) return { error: `percent needs 0-100, got ${JSON.stringify(raw)}` };
        fault.percent = pct;
        break;
      }
      default:
        return { error: `unknown key ${JSON.stringify(key)} in x-meshlet-fault (abort, delay, service, percent)` };
    }
  }
  if (fault.abortStatus === undefined && fault.delayMs === undefined) return { error: 'x-meshlet-fault needs abort=<status> or delay=<duration>' };
  return fault;
}
