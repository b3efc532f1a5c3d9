// Every error `meshlet bench` reports, with its code and the process exit code it leads to.
// Exit codes follow k6 (errext/exitcodes) so scripts that wrap k6 can wrap the harness unchanged.

/** Process exit codes, as k6 uses them. */
export const EXIT = Object.freeze({
  ok: 0,
  /** Something else went wrong (I/O, a bug). */
  failure: 1,
  /** One or more thresholds failed (k6 `ThresholdsHaveFailed`). */
  thresholdsFailed: 99,
  /** Bad flags, scenario file or thresholds (k6 `InvalidConfig`). */
  invalidConfig: 104,
  /** Stopped by SIGINT/SIGTERM before the end (k6 `ExternalAbort`). */
  externalAbort: 105,
});

export const BENCH_ERRORS = Object.freeze({
  ERR_BENCH_BAD_FLAG: EXIT.invalidConfig,
  ERR_BENCH_BAD_SCENARIO: EXIT.invalidConfig,
  ERR_BENCH_BAD_THRESHOLD: EXIT.invalidConfig,
  ERR_BENCH_SCENARIO_UNREADABLE: EXIT.invalidConfig,
  ERR_BENCH_TOO_MUCH_LOAD: EXIT.invalidConfig,
  ERR_BENCH_SUMMARY_WRITE: EXIT.failure,
  ERR_BENCH_ENGINE: EXIT.failure,
});

export type BenchErrorCode = keyof typeof BENCH_ERRORS;

/** An expected failure: reaches the user as its message, exits with `exitCode`. */
export class BenchError extends Error {
  readonly code: BenchErrorCode;
  readonly exitCode: number;
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
    this.code = code;
    this.exitCode = BENCH_ERRORS[code];
  }
}
