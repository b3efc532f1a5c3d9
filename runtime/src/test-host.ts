// A recording fake of the host port for planner/applier tests (no root, no system changes).
import { ExecError, type ExecOptions, type Host } from './host.ts';

export interface FakeHost extends Host {
  calls: string[];
  /** Make commands whose joined argv matches fail with this stderr. */
  failOn(pattern: RegExp, stderr: string): void;
  files: Map<string, string>;
}

export function createFakeHost(): FakeHost {
  const calls: string[] = [];
  const failures: { pattern: RegExp; stderr: string }[] = [];
  const files = new Map<string, string>();
  return {
    calls,
    files,
    failOn(pattern, stderr) {
      failures.push({ pattern, stderr });
    },
    exec(argv: readonly string[], options?: ExecOptions) {
      const line = argv.join(' ');
      calls.push(options?.stdin === undefined ? line : `${line} <<< ${options.stdin.trim().split('\n').join(' | ')}`);
      const f = failures.find((x) => x.pattern.test(line));
      if (f !== undefined) return Promise.reject(new ExecError(argv, 1, '', f.stderr));
      return Promise.resolve({ stdout: '', stderr: '' });
    },
    writeFile(path, content) {
      calls.push(`write ${path}`);
      files.set(path, content);
      return Promise.resolve();
    },
    mkdir(path) {
      calls.push(`mkdir ${path}`);
      return Promise.resolve();
    },
    remove(path) {
      calls.push(`rm ${path}`);
      files.delete(path);
      return Promise.resolve();
    },
    readFile(path) {
      return Promise.resolve(files.get(path));
    },
    symlink(target, path) {
      calls.push(`ln ${target} ${path}`);
      return Promise.resolve();
    },
  };
}
