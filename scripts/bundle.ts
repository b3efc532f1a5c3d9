// `node scripts/bundle.ts <part>` builds <part>/dist/main.js from <part>/src/main.ts: the part's sources,
// the wire/src it imports and the npm packages it uses, as one plain-JavaScript ES module.
// `bin/meshlet.js` runs it instead of the .ts sources while it is newer than everything it was built
// from (dist/inputs.json), so a process neither loads Node's TypeScript stripper (amaro, ~12 MB of RSS)
// nor strips dozens of files, nor resolves and links hundreds of package files at each start; edit a
// source and the launcher falls back to the .ts files until the next `npm run build`. Used for the
// processes that start often: the sidecar (one per pod) and the runtime's CLI and daemon. Measured in
// proxy/README.md ("Built entry"). esbuild's WebAssembly build: no native binary.
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild-wasm';

const part = process.argv[2];
const repo = join(import.meta.dirname, '..');
if (part === undefined || !existsSync(join(repo, part, 'src', 'main.ts'))) {
  process.stderr.write(`bundle: usage: node scripts/bundle.ts <part>, where <part>/src/main.ts exists (got ${part ?? 'nothing'})\n`);
  process.exit(2);
}
const root = join(repo, part);
const outdir = join(root, 'dist');

const started = performance.now();
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await esbuild.build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: join(outdir, 'main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // CommonJS packages (undici, prom-client, pino…) call require() for Node's built-in modules; an ES
  // module has no `require`, so the bundle makes one.
  banner: { js: "import { createRequire as meshletCreateRequire } from 'node:module';\nconst require = meshletCreateRequire(import.meta.url);" },
});
// What the bundle was made from, for the launcher's staleness check: the workspace's own sources, and
// for the packages npm's record of the installed tree (rewritten by every `npm ci`/`npm install`;
// package files keep the fixed mtimes of their tarballs, so their own mtimes would not tell).
const sources = Object.keys(result.metafile.inputs)
  .map((p) => relative(repo, join(process.cwd(), p)))
  .filter((p) => !p.split('/').includes('node_modules'));
const inputs = [...sources, 'node_modules/.package-lock.json'];
const builtAtMs = (await stat(join(outdir, 'main.js'))).mtimeMs;
await writeFile(join(outdir, 'inputs.json'), `${JSON.stringify({ builtAtMs, inputs }, null, 1)}\n`);
await esbuild.stop();
const packages = Object.keys(result.metafile.inputs).length - sources.length;
process.stdout.write(`${part}: built dist/main.js from ${sources.length} sources and ${packages} package files in ${Math.round(performance.now() - started)} ms\n`);
