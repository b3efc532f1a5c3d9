// The one port through which the runtime changes the machine: programs run with `execFile` (never a
// shell) and a few file operations. Plans are data; `apply.ts` interprets them through this port, so
// the planner and the applier are tested with a recording fake and no root.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ExecOptions {
  /** Written to the program's stdin (e.g. `iptables-restore` input, `ip -batch -`). */
  stdin?: string;
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** A program that failed: its argv, exit code and stderr, for messages and for `isAbsentError`. */
export class ExecError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly stdout: string;

  constructor(argv: readonly string[], exitCode: number | null, stdout: string, stderr: string, cause?: unknown) {
    const detail = stderr.trim().split('\n').slice(-3).join(' / ') || (cause instanceof Error ? cause.message : `exit code ${exitCode}`);
    super(`${argv.join(' ')}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'ExecError';
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
    this.stdout = stdout;
  }
}

/** The port. Every method may throw; `exec` throws `ExecError`. */
export interface Host {
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Writes atomically (temp file + rename), creating parent directories. */
  writeFile(path: string, content: string, mode?: number): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** `rm -rf`: absent is success. */
  remove(path: string): Promise<void>;
  /** The file's text, or undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** Creates `path` pointing at `target`; an existing link is left as is. */
  symlink(target: string, path: string): Promise<void>;
}

const DEFAULT_EXEC_TIMEOUT_MS = 30_000; // 30 s: `ip`/`iptables` answer in milliseconds; runc delete can take a second

/** The real port. */
export function createHost(): Host {
  return {
    exec(argv, options = {}) {
      const [file, ...args] = argv;
      if (file === undefined) return Promise.reject(new Error('exec: empty argv'));
      return new Promise((resolve, reject) => {
        const child = execFile(
          file,
          args,
          { timeout: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
          (err, stdout, stderr) => {
            if (err === null) resolve({ stdout, stderr });
            else reject(new ExecError(argv, typeof err.code === 'number' ? err.code : null, stdout, stderr, err));
          },
        );
        // A program that exits before reading stdin makes the write fail with EPIPE; its exit code says why.
        child.stdin?.on('error', () => {});
        child.stdin?.end(options.stdin ?? '');
      });
    },
    async writeFile(path, content, mode = 0o644) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, content, { mode });
      await rename(tmp, path);
    },
    async mkdir(path) {
      await mkdir(path, { recursive: true });
    },
    async remove(path) {
      await rm(path, { recursive: true, force: true });
    },
    async readFile(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async symlink(target, path) {
      await mkdir(dirname(path), { recursive: true });
      await symlink(target, path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    },
  };
}

/**
 * Messages with which `ip`, `iptables` and `runc` say "it is not there". Teardown treats them as
 * success (CNI DEL semantics): deleting what is already gone is not an error.
 */
const ABSENT_PATTERNS = [
  /Cannot find device/i,
  /does not exist/i,
  /No such file or directory/i,
  /No such process/i, // `ip route del` of a missing route
  /No chain\/target\/match by that name/i,
  /Bad rule \(does a matching rule exist/i,
  /Couldn't load target/i,
  /Chain '?[\w-]+'? does not exist/i,
  /container .* does not exist/i,
  /Cannot open network namespace/i,
  /not found/i,
  /Cannot remove namespace file/i,
];

/** True when a failed command failed only because its object is already gone. */
export function isAbsentError(err: unknown): boolean {
  if (!(err instanceof ExecError)) return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return ABSENT_PATTERNS.some((p) => p.test(err.stderr) || p.test(err.stdout));
}
