// retry: makes the attempts of one outbound request. Retries only idempotent methods (or routes marked
// retryable), only for the failures the policy names, only with a body that can be replayed
// (≤ maxRetryBodyBytes, read ahead of the first attempt), and only while the destination's retry
// budget allows. Each attempt is a CLIENT span under the request span (shape in wire/attributes.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { ATTR, MESH_ERROR_HEADER, isProxyReason, type FailureReason } from '@meshlet/wire';
import { MeshError, toMeshError } from '../errors.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { SpanHandle, Tracer } from '../telemetry/tracer.ts';
import { ResponseBody } from '../response-body.ts';
import type { IncomingRequest, Layer, ProxyRequest, ProxyResponse } from '../service.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** 5xx statuses of an app worth another attempt (the others say the request itself is bad). */
const RETRYABLE_APP_STATUS = new Set([502, 503, 504]);
const BACKOFF_BASE_MS = 10;

/** The failure a response means, or null: the remote sidecar's reason, else `app_error` for a 5xx. */
export function responseFailure(res: ProxyResponse): FailureReason | null {
  if (res.status < 500) return null;
  const remote = res.headers[MESH_ERROR_HEADER];
  return isProxyReason(remote) ? remote : 'app_error';
}

/**
 * Reads up to `limit` bytes of the body ahead. Returns the whole body as a Buffer when it fits, or null
 * after putting what was read back in front of the stream (so nothing is lost; the request is then not retried).
 */
export async function bufferForReplay(req: ProxyRequest, limit: number): Promise<Buffer | null> {
  const body = req.body as IncomingRequest;
  if (req.contentLength !== null && req.contentLength > limit) return null;
  req.sendContinue?.();
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise<Buffer | null>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        cleanup();
        body.pause();
        // Too large to replay: hand the bytes read back to the stream, in order, then stream on.
        for (let i = chunks.length - 1; i >= 0; i--) body.unshift(chunks[i]);
        resolve(null);
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new MeshError('bad_request', `the request body could not be read: ${err.message}`));
    };
    const onClose = (): void => {
      if (!body.complete) onError(new Error('the client closed the connection'));
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

export interface RetryDeps {
  tracer: Tracer;
  metrics: Metrics | null;
  maxRetryBodyBytes: () => number;
  random: () => number;
}

const NO_ATTRIBUTES = Object.freeze({});

function endAttempt(span: SpanHandle, req: ProxyRequest, res: ProxyResponse | null, err: MeshError | null): void {
  if (!span.recording) {
    if (res?.body instanceof ResponseBody) res.body.onDone(() => span.end());
    else span.end();
    return;
  }
  if (req.endpoint !== null) span.setAttribute(ATTR.peerEndpoint, req.endpoint);
  if (req.version !== null) span.setAttribute(ATTR.peerVersion, req.version);
  span.setAttribute(ATTR.route, req.route);
  if (err !== null) {
    span.setAttribute(ATTR.errorReason, err.reason);
    span.setAttribute(ATTR.errorOrigin, 'proxy');
    if (err.faultInjected) span.setAttribute(ATTR.faultInjected, true);
    span.setError(err.message);
    span.end();
    return;
  }
  const r = res as ProxyResponse;
  span.setAttribute(ATTR.httpStatus, r.status);
  const failure = responseFailure(r);
  if (failure !== null) {
    span.setAttribute(ATTR.errorReason, failure);
    span.setAttribute(ATTR.errorOrigin, failure === 'app_error' ? 'app' : 'proxy');
    span.setError(`${r.status} from ${req.service ?? 'upstream'}`);
  }
  if (r.body instanceof ResponseBody) r.body.onDone(() => span.end());
  else span.end();
}

export function retry(deps: RetryDeps): Layer {
  return (next) => async (req) => {
    const dest = req.destination;
    if (dest === null) throw new Error('retry: no destination (route must run first)');
    const policy = req.routeConfig?.retry ?? dest.config.retry;
    dest.budget.deposit();
    let canRetry = policy.maxRetries > 0 && (IDEMPOTENT.has(req.method) || policy.retryNonIdempotent);
    if (canRetry && req.body !== null && !Buffer.isBuffer(req.body)) {
      const replay = await bufferForReplay(req, deps.maxRetryBodyBytes());
      if (replay === null) canRetry = false;
      else req.body = replay;
    }
    const parent = req.span;
    for (let attempt = 1; ; attempt++) {
      req.attempts = attempt;
      req.attemptDeadlineMs = policy.perTryTimeoutMs === undefined ? Infinity : performance.now() + policy.perTryTimeoutMs;
      const span = deps.tracer.startSpan(
        `${req.method} attempt`,
        'client',
        parent,
        deps.tracer.recording ? { [ATTR.retryAttempt]: attempt, [ATTR.peerService]: dest.name, [ATTR.direction]: 'outbound', [ATTR.httpMethod]: req.method } : NO_ATTRIBUTES,
      );
      req.attemptSpan = span;
      let res: ProxyResponse | null = null;
      let err: MeshError | null = null;
      try {
        res = await next(req);
      } catch (e) {
        err = toMeshError(e, dest.name, req.endpoint);
      }
      endAttempt(span, req, res, err);
      const failure: FailureReason | null = err !== null ? err.reason : responseFailure(res as ProxyResponse);
      const retryable =
        failure !== null &&
        canRetry &&
        attempt <= policy.maxRetries &&
        !req.aborted &&
        !(err?.faultInjected ?? false) &&
        policy.retryOn.includes(failure) &&
        (failure !== 'app_error' || RETRYABLE_APP_STATUS.has((res as ProxyResponse).status));
      if (!retryable) {
        if (err !== null) throw err;
        return res as ProxyResponse;
      }
      if (performance.now() >= req.deadlineMs) {
        if (err !== null) throw err;
        return res as ProxyResponse;
      }
      if (!dest.budget.tryWithdraw()) {
        deps.metrics?.retryBudgetExhausted(dest.name);
        if (err !== null) {
          throw new MeshError('retry_budget_exhausted', `${dest.name} failed (${err.reason}) and its retry budget is spent: ${err.message}`, {
            service: dest.name,
            endpoint: err.endpoint,
            cause: err,
          });
        }
        return res as ProxyResponse;
      }
      deps.metrics?.retry(dest.name, failure);
      if (res !== null && res.body instanceof ResponseBody) res.body.discard();
      // Jittered exponential backoff so replicas are not hit in lockstep.
      const backoffMs = deps.random() * BACKOFF_BASE_MS * 2 ** (attempt - 1);
      if (backoffMs >= 1) await sleep(backoffMs);
    }
  };
}
