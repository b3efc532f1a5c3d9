// `node scripts/bundle.ts <part>` builds <part>/dist/main.js from <part>/src/main.ts: the part's sources,
// the wire/src it imports and the npm packages it uses, as one plain-JavaScript ES module.
// `bin/meshlet.js` runs it instead of the .ts sources while it is newer than everything it was built
// from (dist/inputs.json), so a process neither loads Node's TypeScript stripper (amaro, ~12 MB of RSS)
// nor strips dozens of files, nor resolves and links hundreds of package files at each start; edit a
// source and the launcher falls back to the .ts files until the next `npm run build`. Used for the
// processes that start often: the sidecar (one per pod) and the runtime's CLI and daemon. Measured in
// proxy/README.md ("Built entry"). esbuild's WebAssembly build: no native binary.
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

// `import http from 'node:http'` in an ES module makes Node build the module's ESM facade, which reads
// every export — node:http's lazy `WebSocket`, `MessageEvent`… getters too, and so loads and compiles
// Node's internal copy of undici (~70 modules: ~0.1 CPU-second and ~14 MB of RSS at every start).
// `require()` returns the same object without a facade. So the bundle's static imports of built-in
// modules become requires (the bundle's banner defines `require`); esbuild keeps named imports as
// property reads of that object, so they stay live.
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const builtinsAsRequire: esbuild.Plugin = {
  name: 'builtins-as-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) =>
      args.kind === 'import-statement' && builtins.has(args.path) ? { path: args.path, namespace: 'builtin-require' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

// undici's Client requires its HTTP/2 half (client-h2.js) when it loads, and that half requires
// node:http2, which loads node:tls and node:crypto: ~15 ms of CPU and a few MB at every sidecar start,
// for a code path used only by a connection that negotiates h2 (the sidecar's pools never enable it).
// In the bundle the require moves into the one call site, so it runs when an h2 connection is first
// made. The build fails if undici's line changes, rather than silently bundling the eager require.
const CLIENT_H2_REQUIRE = "const connectH2 = require('./client-h2.js')";
const lazyUndiciH2: esbuild.Plugin = {
  name: 'lazy-undici-h2',
  setup(build) {
    build.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (source.split(CLIENT_H2_REQUIRE).length !== 2) throw new Error(`${args.path}: expected one \`${CLIENT_H2_REQUIRE}\` to make lazy`);
      return { contents: source.replace(CLIENT_H2_REQUIRE, "const connectH2 = (client, socket) => require('./client-h2.js')(client, socket)"), loader: 'js' };
    });
  },
};

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
  // The sidecar's bundle without whitespace (and comments): V8 keeps a script's whole source in the heap
  // for as long as it runs (functions compile lazily from it), and a sidecar runs beside every pod:
  // 2.4 -> 1.8 MB, -1.1 MB of RSS and ~4 ms of start-up CPU per sidecar (proxy/README.md, "Start-up
  // cost"). Names stay (stack traces name the functions); the source map beside it gives lines
  // (`node --enable-source-maps`).
  minifyWhitespace: part === 'proxy',
  metafile: true,
  logLevel: 'warning',
  plugins: [builtinsAsRequire, lazyUndiciH2],
  // CommonJS packages (undici, prom-client, pino…) call require() for Node's built-in modules; an ES
  // module has no `require`, so the bundle makes one.
  banner: { js: "import { createRequire as meshletCreateRequire } from 'node:module';\nconst require = meshletCreateRequire(import.meta.url);" },
});
// A pure-ASCII file: esbuild escapes the non-ASCII characters of strings (its `charset: 'ascii'`
// default) but copies comments and regular expressions as they are, and a few hold one (’, §, µ). One
// such character makes Node decode the whole ~3 MB file on UTF-8's slow path (~75 ms of every start
// instead of ~20) into a two-byte string that V8 keeps as the script's source: 6 MB of heap instead of
// 3. Each becomes its `\uXXXX` escape, which means the same character in a regular expression (and in
// a string, template or identifier) and is just text in a comment.
const mainJs = join(outdir, 'main.js');
const text = await readFile(mainJs, 'utf8');
if (/\\[\u0080-\uffff]/.test(text)) throw new Error(`${mainJs}: a non-ASCII character after a backslash; its escape would change what it means`);
if (/[\u0080-\uffff]/.test(text)) await writeFile(mainJs, text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
// What the bundle was made from, for the launcher's staleness check: the workspace's own sources, and
// for the packages npm's record of the installed tree (rewritten by every `npm ci`/`npm install`;
// package files keep the fixed mtimes of their tarballs, so their own mtimes would not tell).
const sources = Object.keys(result.metafile.inputs)
  .filter((p) => !p.startsWith('builtin-require:'))
  .map((p) => relative(repo, join(process.cwd(), p)))
  .filter((p) => !p.split('/').includes('node_modules'));
const inputs = [...sources, 'node_modules/.package-lock.json'];
const builtAtMs = (await stat(mainJs)).mtimeMs;
await writeFile(join(outdir, 'inputs.json'), `${JSON.stringify({ builtAtMs, inputs }, null, 1)}\n`);
await esbuild.stop();
const packages = Object.keys(result.metafile.inputs).filter((p) => p.split('/').includes('node_modules')).length;
process.stdout.write(`${part}: built dist/main.js from ${sources.length} sources and ${packages} package files in ${Math.round(performance.now() - started)} ms\n`);
