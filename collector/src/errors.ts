// Every error code of the collector, with the HTTP status it maps to (fastify's habit: one file).

export const COLLECTOR_ERRORS = Object.freeze({
  /** An OTLP request body that is not a valid export request (protobuf or JSON). */
  ERR_COLLECTOR_MALFORMED: 400,
  /** A Content-Type the OTLP endpoint does not speak. */
  ERR_COLLECTOR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** A Content-Encoding other than gzip or identity. */
  ERR_COLLECTOR_UNSUPPORTED_ENCODING: 415,
  /** A body larger than the limit, measured after decompression. */
  ERR_COLLECTOR_TOO_LARGE: 413,
  /** The write queue or the in-flight body budget is full: try again later. */
  ERR_COLLECTOR_BUSY: 503,
  /** A query parameter that is missing or invalid. */
  ERR_COLLECTOR_BAD_PARAM: 400,
  /** An unknown trace, run or path. */
  ERR_COLLECTOR_NOT_FOUND: 404,
  ERR_COLLECTOR_METHOD_NOT_ALLOWED: 405,
  /** The store failed (disk full, corrupt database). */
  ERR_COLLECTOR_STORE: 500,
  /** A bad option at start-up. */
  ERR_COLLECTOR_CONFIG: 2,
});

export type CollectorErrorCode = keyof typeof COLLECTOR_ERRORS;

/** An expected failure that reaches the user as a clear message with a stable code. */
export class CollectorError extends Error {
  readonly code: CollectorErrorCode;
  /** The query parameter at fault, for `ERR_COLLECTOR_BAD_PARAM`. */
  readonly param: string | undefined;

  constructor(code: CollectorErrorCode, message: string, param?: string) {
    super(message);
    this.name = 'CollectorError';
    this.code = code;
    this.param = param;
  }

  get status(): number {
    return COLLECTOR_ERRORS[this.code];
  }
}

/** A malformed OTLP body; the message says what and where (a field path such as `resourceSpans[0].scopeSpans[1]`). */
export class OtlpDecodeError extends CollectorError {
  /** What was wrong, without the path. */
  readonly reason: string;
  /** Where, outermost first: `['resourceSpans[0]', 'scopeSpans[1]', 'spans[2]', 'traceId']`. */
  readonly path: string[] = [];

  constructor(reason: string) {
    super('ERR_COLLECTOR_MALFORMED', reason);
    this.name = 'OtlpDecodeError';
    this.reason = reason;
  }

  /** Adds an enclosing field to the path (called while the error unwinds) and returns the error. */
  within(segment: string): this {
    this.path.unshift(segment);
    this.message = `${this.path.join('.')}: ${this.reason}`;
    return this;
  }
}

/** Re-throws `err` with `segment` added to its path when it is a decode error. */
export function rethrowWithin(err: unknown, segment: string): never {
  if (err instanceof OtlpDecodeError) throw err.within(segment);
  throw err;
}
