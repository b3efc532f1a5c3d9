// fault: injects delays and aborts from fault rules of the config and, in test mode only, from the
// `x-meshlet-fault` request header. An injected failure is a MeshError with `faultInjected`, so record
// marks its span (`meshlet.fault.injected`).
import { setTimeout as sleep } from 'node:timers/promises';
import { FAULT_HEADER, parseFaultHeader, type FaultConfig, type HeaderFault } from '@meshlet/wire';
import { MeshError } from '../errors.ts';
import type { Layer, ProxyRequest, ProxyResponse, Service } from '../service.ts';
import { matches } from './route.ts';
import { requestDeadlineMs } from './timeout.ts';

export interface FaultOptions {
  /** Fault rules for this request (destination faults on outbound, `inbound.faults` on inbound). */
  rules: (req: ProxyRequest) => readonly FaultConfig[];
  testMode: () => boolean;
  /** Service name a header fault must name to apply here (`service=`); on outbound the destination. */
  headerScope: (req: ProxyRequest) => string | null;
  random: () => number;
}

function removeHeader(headers: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if ((headers[i] as string).toLowerCase() !== name) out.push(headers[i] as string, headers[i + 1] as string);
  return out;
}

export function fault(options: FaultOptions): Layer {
  return (next) => (req) => {
    // Fast path: no rule and no header to look at.
    if (options.rules(req).length === 0 && (req.incomingHeaders[FAULT_HEADER] === undefined || !options.testMode())) return next(req);
    return inject(options, next, req);
  };
}

async function inject(options: FaultOptions, next: Service, req: ProxyRequest): Promise<ProxyResponse> {
  {
    let delayMs = 0;
    let abortStatus: number | null = null;
    let source = '';
    for (const rule of options.rules(req)) {
      if (rule.match !== undefined && !matches(rule.match, req.method, req.path, req.incomingHeaders)) continue;
      if (rule.delay !== undefined && options.random() * 100 < rule.delay.percent) delayMs = Math.max(delayMs, rule.delay.ms);
      if (rule.abort !== undefined && abortStatus === null && options.random() * 100 < rule.abort.percent) {
        abortStatus = rule.abort.status;
        source = `fault rule ${rule.name ?? '(unnamed)'}`;
      }
    }
    const header = req.incomingHeaders[FAULT_HEADER];
    if (typeof header === 'string' && options.testMode()) {
      const parsed: HeaderFault | { error: string } = parseFaultHeader(header);
      if ('error' in parsed) throw new MeshError('bad_request', parsed.error, { service: req.service });
      const scope = options.headerScope(req);
      if (parsed.service === undefined || parsed.service === scope) {
        // Consumed here: the next sidecar must not inject the same fault again.
        req.headers = removeHeader(req.headers, FAULT_HEADER);
        if (options.random() * 100 < parsed.percent) {
          if (parsed.delayMs !== undefined) delayMs = Math.max(delayMs, parsed.delayMs);
          if (parsed.abortStatus !== undefined && abortStatus === null) {
            abortStatus = parsed.abortStatus;
            source = `the ${FAULT_HEADER} header`;
          }
        }
      }
    }
    if (delayMs > 0) {
      req.faultDelayed = true;
      // An injected delay stands for a slow upstream: the request's timeout ends it on time, as it
      // would end a real slow answer, instead of after the whole delay (and the upstream is not called).
      const waitMs = Math.min(delayMs, requestDeadlineMs(req) - performance.now());
      await sleep(Math.max(0, waitMs));
      if (waitMs < delayMs) {
        throw new MeshError('request_timeout', `no response from ${req.service ?? 'the service'} within the timeout (an injected delay of ${delayMs} ms)`, { service: req.service });
      }
    }
    if (abortStatus !== null) {
      throw new MeshError('fault_injected', `${source} aborted this request to ${req.service ?? 'the service'} with ${abortStatus}`, {
        service: req.service,
        status: abortStatus,
      });
    }
    return next(req);
  }
}
