// Errors of `meshlet inject`: every problem with the manifest it is in and its line.

export const INJECT_ERRORS = Object.freeze({
  /** The input is not YAML/JSON. */
  syntax: 'ERR_INJECT_SYNTAX',
  /** A document is not a Kubernetes object, or a workload has no pod template. */
  manifest: 'ERR_INJECT_MANIFEST',
  /** A `meshlet.dev/*` annotation has a value that cannot be used. */
  annotation: 'ERR_INJECT_ANNOTATION',
  /** The workload cannot get a sidecar (host network, a container name taken). */
  unsupported: 'ERR_INJECT_UNSUPPORTED',
  /** Command-line usage (unknown flag, unreadable file, bad option value). */
  usage: 'ERR_INJECT_USAGE',
});

export type InjectErrorCode = (typeof INJECT_ERRORS)[keyof typeof INJECT_ERRORS];

/** One problem, placed: `deploy.yaml:14: Deployment web: …`. */
export interface InjectProblem {
  code: InjectErrorCode;
  file: string;
  line?: number;
  message: string;
}

export class InjectError extends Error {
  readonly code: InjectErrorCode;
  readonly problems: readonly InjectProblem[];

  constructor(problems: readonly InjectProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InjectError';
    this.code = (problems[0] as InjectProblem).code;
    this.problems = problems;
  }
}

export function formatProblem(p: InjectProblem): string {
  return `${p.file}${p.line === undefined ? '' : `:${p.line}`}: ${p.message}`;
}
