// Runs the tests of every part, or of the parts named: `npm test -- proxy collector`.
// Other arguments starting with `--` go to `node --test` (e.g. `--test-name-pattern=retry`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const ALL_PARTS = ['wire', 'proxy', 'collector', 'runtime', 'ui', 'bench', 'deploy', 'examples', 'test'];

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const named = args.filter((a) => !a.startsWith('--'));
for (const part of named) {
  if (!ALL_PARTS.includes(part)) {
    process.stderr.write(`test: unknown part "${part}"; parts are ${ALL_PARTS.join(', ')}\n`);
    process.exit(2);
  }
}
const parts = (named.length > 0 ? named : ALL_PARTS).filter((p) => existsSync(join(root, p)));
// node --test skips node_modules when expanding globs.
const globs = parts.map((p) => (p === 'test' ? 'test/**/*.test.ts' : `${p}/**/*.test.ts`));

const child = spawn(
  process.execPath,
  ['--test', '--test-timeout=600000', ...flags, ...globs],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MESHLET_TEST: '1' } },
);
// Forward Ctrl-C/TERM so tests run their cleanup (netns, iptables, processes) before exiting.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
