// Builds proxy/dist/main.js: the sidecar's own sources (proxy/src and the wire/src it imports) as one
// plain-JavaScript ES module, npm packages left as imports. `bin/meshlet.js proxy` runs it instead of
// proxy/src/main.ts when it is newer than every source it was built from (dist/inputs.json), so a
// sidecar does not load Node's TypeScript stripper (amaro, ~12 MB of RSS) nor strip ~40 files at each
// start; edit a source and the launcher falls back to the .ts files until the next `npm run build`.
// Measured in proxy/README.md ("Built entry"). esbuild's WebAssembly build: no native binary.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild-wasm';

const root = import.meta.dirname;
const repo = join(root, '..');
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
  plugins: [
    {
      // npm packages stay imports (resolved from node_modules at run time, like the sources do);
      // only the workspace's own packages (@meshlet/wire) are compiled in.
      name: 'external-packages',
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@meshlet/') ? undefined : { path: args.path, external: true }));
      },
    },
  ],
});
// The sources the bundle was made from, for the launcher's staleness check.
const inputs = Object.keys(result.metafile.inputs).map((p) => relative(repo, join(process.cwd(), p)));
const builtAtMs = (await stat(join(outdir, 'main.js'))).mtimeMs;
await writeFile(join(outdir, 'inputs.json'), `${JSON.stringify({ builtAtMs, inputs }, null, 1)}\n`);
await esbuild.stop();
process.stdout.write(`proxy: built dist/main.js from ${inputs.length} sources in ${Math.round(performance.now() - started)} ms\n`);
