// A response body streaming from an upstream (undici dispatch) to the client socket with backpressure:
// when the client's socket buffer is full the upstream read is paused, never buffered without bound
// (undici's controller.pause()/resume(); node's `drain`). Chunks that arrive before a sink is
// attached (between headers and the first write) are held, and the upstream is paused meanwhile.
import type { HeaderMap } from './service.ts';

/**
 * Where a body goes: node's ServerResponse (HTTP/1.1) or Http2ServerResponse (h2c), which offer the
 * same writable surface. HTTP/1.1 can send trailers only with chunked framing; h2 always can.
 */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  end(chunk: Buffer): unknown;
  once(event: 'drain', listener: () => void): unknown;
  destroy(error?: Error): unknown;
  addTrailers(headers: Record<string, string | string[]>): void;
  readonly chunkedEncoding?: boolean;
}

/** What undici's dispatch controller offers for flow control. */
export interface FlowControl {
  pause(): void;
  resume(): void;
  abort(reason: Error): void;
}

/** Called once when the body completes (error null) or fails. */
export type BodyDoneListener = (error: Error | null, bytes: number) => void;

/** Bytes held before a sink is attached, before the upstream is paused. */
const MAX_HELD_BYTES = 64 * 1024;

function isEmpty(headers: HeaderMap | null): boolean {
  if (headers === null) return true;
  for (const _ in headers) return false;
  return true;
}

export class ResponseBody {
  /** Bytes received from upstream so far. */
  bytes = 0;
  trailers: HeaderMap | null = null;
  error: Error | null = null;
  private flow: FlowControl;
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private paused = false;
  private sink: BodySink | null = null;
  private h2 = false;
  private discarding = false;
  /** The client went away before a sink was attached. */
  private abandoned = false;
  private finished = false;
  private sinkDone = false;
  private listeners: BodyDoneListener[] = [];
  private drainListener: (() => void) | null = null;

  constructor(flow: FlowControl) {
    this.flow = flow;
  }

  private get onDrain(): () => void {
    return (this.drainListener ??= () => this.flow.resume());
  }

  /** Producer: a chunk from upstream. */
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    const sink = this.sink;
    if (sink !== null) {
      if (!sink.write(chunk)) {
        this.flow.pause();
        sink.once('drain', this.onDrain);
      }
      return;
    }
    if (this.discarding) return;
    (this.held ??= []).push(chunk);
    this.heldBytes += chunk.length;
    // Hold a little without a sink (the response headers are on their way up the stack); past that,
    // stop reading from the upstream until the client side is attached.
    if (this.heldBytes > MAX_HELD_BYTES && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** Producer: upstream finished, with its trailers (possibly empty). */
  end(trailers: HeaderMap | null): void {
    if (this.finished) return;
    this.finished = true;
    this.trailers = trailers;
    // A paused parser keeps the connection out of the pool: the message is complete, let it go.
    if (this.paused) {
      this.paused = false;
      this.flow.resume();
    }
    if (this.sink !== null) this.finishSink();
    else if (this.discarding) this.done(null);
    else if (this.abandoned) this.done(new Error('the client went away before the response was sent'));
  }

  /** Producer: upstream failed after the headers. */
  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    if (this.sink !== null) this.finishSink();
    else if (this.discarding || this.abandoned) this.done(error);
  }

  /** Consumer: stream everything into `sink` (headers must already be set) and end it; `h2` for an HTTP/2 sink. */
  pipe(sink: BodySink, h2 = false): void {
    this.sink = sink;
    this.h2 = h2;
    const held = this.held;
    this.held = null;
    if (this.finished && this.error === null && held !== null && held.length === 1 && isEmpty(this.trailers)) {
      // The common small response, complete before the client write: headers and body in one write.
      sink.end(held[0] as Buffer);
      this.done(null);
      return;
    }
    let writable = true;
    if (held !== null) for (const chunk of held) writable = sink.write(chunk);
    if (this.finished) {
      this.finishSink();
      return;
    }
    if (held !== null && this.paused) {
      this.paused = false;
      if (writable) this.flow.resume();
      else sink.once('drain', this.onDrain);
    } else if (!writable) {
      this.flow.pause();
      sink.once('drain', this.onDrain);
    }
  }

  /** Consumer: not wanted (a retried 5xx): read the rest and drop it, so the connection can be reused. */
  discard(): void {
    this.held = null;
    this.discarding = true;
    if (this.finished) this.done(this.error);
    else if (this.paused) {
      this.paused = false;
      this.flow.resume();
    }
  }

  /** Consumer: the client went away; stop the upstream (or, if it already finished, just let go). */
  abort(reason: Error): void {
    if (this.sinkDone) return;
    this.abandoned = true;
    this.held = null;
    if (!this.finished) {
      this.flow.abort(reason); // → fail() → done()
      return;
    }
    if (this.sink === null) this.done(reason);
  }

  onDone(listener: BodyDoneListener): void {
    if (this.sinkDone) listener(this.error, this.bytes);
    else this.listeners.push(listener);
  }

  private finishSink(): void {
    const sink = this.sink as BodySink;
    if (this.error !== null) {
      // The client must see a broken response, not a short one that looks complete.
      sink.destroy(this.error);
    } else {
      const trailers = this.trailers;
      if (!isEmpty(trailers) && (this.h2 || sink.chunkedEncoding === true)) {
        try {
          sink.addTrailers(trailers as Record<string, string>);
        } catch (err) {
          // A trailer HTTP/2 refuses (a connection-specific or invalid name): a broken response, not a silent loss.
          this.error = err as Error;
          sink.destroy(this.error);
          this.done(this.error);
          return;
        }
      }
      sink.end();
    }
    this.done(this.error);
  }

  private done(error: Error | null): void {
    if (this.sinkDone) return;
    this.sinkDone = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener(error, this.bytes);
  }
}
