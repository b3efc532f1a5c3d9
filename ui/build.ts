// Builds the UI into ui/dist, which the collector serves at `/` on 16686.
// esbuild's WebAssembly build bundles it: no native binary or addon anywhere (Vite's bundlers ship
// prebuilt `.node` files, which the project does not allow). `--watch` rebuilds on change; point a
// collector at the output (`npx meshlet collector --ui ui/dist`) and reload the page.
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild-wasm';

const root = import.meta.dirname;
const outdir = join(root, 'dist');
const watch = process.argv.includes('--watch');
const require = createRequire(import.meta.url);

/** `import url from 'pkg/file.js?url'`: the file is emitted as a hashed asset and the import is its URL. */
const assetUrlPlugin: esbuild.Plugin = {
  name: 'asset-url',
  setup(build) {
    build.onResolve({ filter: /\?url$/ }, (args) => ({
      path: require.resolve(args.path.slice(0, -'?url'.length), { paths: [args.resolveDir] }),
      namespace: 'asset-url',
    }));
    build.onLoad({ filter: /.*/, namespace: 'asset-url' }, async (args) => {
      const bytes = await readFile(args.path);
      const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 10);
      const name = basename(args.path).replace(/(\.min)?\.js$/, '');
      const file = `${name}-${hash}.js`;
      await mkdir(join(outdir, 'assets'), { recursive: true });
      await writeFile(join(outdir, 'assets', file), bytes);
      return { contents: `export default ${JSON.stringify(`/assets/${file}`)};`, loader: 'js' };
    });
  },
};

/** Writes index.html with the hashed entry script and stylesheet once a build finishes. */
const htmlPlugin: esbuild.Plugin = {
  name: 'html',
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length > 0 || result.metafile === undefined) return;
      const outputs = Object.entries(result.metafile.outputs);
      const entry = outputs.find(([, o]) => o.entryPoint === 'src/main.tsx');
      if (entry === undefined) throw new Error('build: no output for src/main.tsx');
      const href = (file: string) => `/${relative(outdir, join(process.cwd(), file)).split('\\').join('/')}`;
      const template = await readFile(join(root, 'index.html'), 'utf8');
      let html = template.replace('<script type="module" src="/src/main.tsx"></script>', `<script type="module" src="${href(entry[0])}"></script>`);
      if (html === template) throw new Error('build: index.html lost its entry <script> tag');
      const css = entry[1].cssBundle;
      if (css !== undefined) html = html.replace('</head>', `  <link rel="stylesheet" href="${href(css)}" />\n  </head>`);
      await writeFile(join(outdir, 'index.html'), html);
      await cp(join(root, 'public'), outdir, { recursive: true });
    });
  },
};

const options: esbuild.BuildOptions = {
  absWorkingDir: root,
  entryPoints: ['src/main.tsx'],
  outdir: join(outdir, 'assets'),
  bundle: true,
  splitting: true, // the graph's layout engine loads on first use, in its own chunk
  format: 'esm',
  target: ['es2022', 'chrome120', 'firefox120', 'safari17'],
  jsx: 'automatic',
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.svg': 'file', '.woff2': 'file' },
  define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production') },
  metafile: true,
  logLevel: 'warning',
  plugins: [assetUrlPlugin, htmlPlugin],
};

await rm(outdir, { recursive: true, force: true });
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.error(`ui: watching; serving files from ${outdir} needs a collector: npx meshlet collector --ui ${relative(process.cwd(), outdir) || '.'}`);
} else {
  const started = performance.now();
  await esbuild.build(options);
  console.error(`ui: built ${relative(process.cwd(), outdir) || outdir} in ${Math.round(performance.now() - started)} ms`);
  await esbuild.stop();
}
