// Reads a request body with a size limit that holds after decompression: a gzip bomb is inflated as a
// stream and stopped as soon as the output passes the limit, so it never allocates more than that.
import type { IncomingMessage } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { CollectorError } from '../errors.ts';

export interface BodyBudget {
  /** Bytes of bodies being read right now, across requests (the collector's memory bound). */
  inFlightBytes: number;
  readonly maxInFlightBytes: number;
}

/**
 * Reads the whole body of `req`, inflating `gzip`/`deflate`. Rejects with ERR_COLLECTOR_TOO_LARGE past
 * `maxBytes` (measured after decompression), ERR_COLLECTOR_BUSY when the shared budget is exhausted,
 * ERR_COLLECTOR_UNSUPPORTED_ENCODING for other encodings and ERR_COLLECTOR_MALFORMED for corrupt data.
 */
export function readBody(req: IncomingMessage, maxBytes: number, budget: BodyBudget): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let source: IncomingMessage | Gunzip | Inflate;
  if (encoding === 'gzip' || encoding === 'x-gzip') source = req.pipe(createGunzip());
  else if (encoding === 'deflate') source = req.pipe(createInflate());
  else if (encoding === 'identity' || encoding === '') source = req;
  else {
    return Promise.reject(new CollectorError('ERR_COLLECTOR_UNSUPPORTED_ENCODING', `Content-Encoding "${encoding}" is not supported (use gzip or none)`));
  }
  const declared = Number(req.headers['content-length']);
  if (encoding === 'identity' && Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new CollectorError('ERR_COLLECTOR_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (err: CollectorError | null): void => {
      if (done) return;
      done = true;
      budget.inFlightBytes -= total;
      if (err === null) {
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
        return;
      }
      chunks.length = 0;
      if (source !== req) (source as Gunzip).destroy();
      // Stop reading the rest of the upload; the response is sent by the caller.
      req.unpipe();
      req.resume();
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      budget.inFlightBytes += chunk.length;
      if (total > maxBytes) {
        finish(new CollectorError('ERR_COLLECTOR_TOO_LARGE', `body exceeds the limit of ${maxBytes} bytes${source !== req ? ' after decompression' : ''}`));
        return;
      }
      if (budget.inFlightBytes > budget.maxInFlightBytes) {
        finish(new CollectorError('ERR_COLLECTOR_BUSY', 'too much data in flight; retry later'));
        return;
      }
      chunks.push(chunk);
    });
    source.on('end', () => finish(null));
    source.on('error', (err: Error) => finish(new CollectorError('ERR_COLLECTOR_MALFORMED', `cannot decompress the body (${encoding}): ${err.message}`)));
    req.on('aborted', () => finish(new CollectorError('ERR_COLLECTOR_MALFORMED', 'the client aborted the request')));
  });
}
