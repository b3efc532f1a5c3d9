#!/usr/bin/env node
// The `meshlet` command. This file must run on any Node (the system one may be 20 or older):
// it re-executes itself with the Node 24 that `npm ci` installed (the `node` devDependency),
// then hands the verb to the part that owns it. Plain JavaScript on purpose: older Nodes
// cannot strip types.
import { createRequire } from 'node:module';

// Built-in modules through require(), not `import`: an ES module import makes Node build the module's
// ESM facade, which reads every export: node:fs's lazy `ReadStream` getter loads its streams. Part of a
// sidecar's start-up cost, paid once per pod (proxy/README.md, "Start-up cost").
const require = createRequire(import.meta.url);
const nodeModule = require('node:module');
const { existsSync, readFileSync, realpathSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { fileURLToPath, pathToFileURL } = require('node:url');

const REQUIRED_MAJOR = 24;
// realpath: `npm link` and node_modules/.bin reach this file through symlinks.
const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');

// verb -> the module whose `main(argv)` runs it; every other verb belongs to the runtime CLI.
const parts = {
  proxy: 'proxy/src/main.ts',
  collector: 'collector/src/main.ts',
  bench: 'bench/src/main.ts',
  inject: 'deploy/kubernetes/src/main.ts',
};
const runtimeCli = 'runtime/src/main.ts';
// verb -> a build of its part (`npm run build`, scripts/bundle.ts), run instead of the sources while it
// is up to date: the processes that start often — a sidecar per pod, the runtime's CLI and daemon.
const builds = {
  proxy: 'proxy/dist',
};
const runtimeBuild = 'runtime/dist';
// verb -> V8 flags its process needs. A sidecar with V8's default young generation (up to 64 MiB on
// Node 24) idles at ~130 MB and forwards fewer requests than with 2 MiB semi-spaces, whose scavenges
// stay in cache: +63 % requests/s, -25 % CPU per request, peak RSS -50 MB in two same-lock A/B runs
// (bench/README.md, "Proxy"). The runtime passes the flag itself (runtime/src/mesh.ts, sidecarArgv);
// a standalone `meshlet proxy` without it re-executes itself with it (process.execve, same pid).
// The WebAssembly tiering budget: V8 recompiles a hot WebAssembly function with its optimizing compiler in
// the background, and undici's HTTP parser (llhttp, one huge function) becomes "hot" after a few responses
// (three of 6 KB): ~0.2 CPU-second per sidecar spent optimizing a parser that then idles. Measured when
// the config watch still used undici (10-pod `up`: sidecars 7.0 → 5.8 CPU-s); it now uses node:http, so
// this is paid by a sidecar that forwards a little traffic. Ten times the default budget still optimizes
// it within the first second of real traffic (requests/s and CPU per request unchanged in bench/proxy).
const nodeFlags = {
  proxy: ['--max-semi-space-size=2', '--wasm-tiering-budget=130000000'],
};
// verb -> environment its process gets when it re-executes itself to add the flags above (the runtime
// sets the same for its sidecars: runtime/src/mesh.ts, sidecarEnv). A fixed glibc trim threshold: freed
// start-up buffers go back to the kernel instead of staying resident (~2 MB of an idle sidecar).
const nodeEnv = {
  proxy: { MALLOC_TRIM_THRESHOLD_: '131072' },
};

/**
 * The built entry of a part, when it exists and no source it was built from changed since (its
 * `inputs.json`); else null, and the .ts sources run. `MESHLET_SOURCES=1` forces the sources.
 */
function upToDateBuild(dir) {
  if (process.env.MESHLET_SOURCES === '1') return null;
  try {
    const { builtAtMs, inputs } = JSON.parse(readFileSync(join(root, dir, 'inputs.json'), 'utf8'));
    for (const input of inputs) if (statSync(join(root, input)).mtimeMs > builtAtMs) return null;
    return `${dir}/main.js`;
  } catch {
    return null; // not built, or a source was removed
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  const node24 = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node24)) {
    process.stderr.write(
      `meshlet: needs Node ${REQUIRED_MAJOR}, found ${process.versions.node}; run \`npm ci\` in ${root} to install it\n`,
    );
    process.exit(1);
  }
  const { spawn } = require('node:child_process');
  const child = spawn(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child directly (same process group), so SIGINT is only swallowed here;
  // forwarding it too would deliver it twice. `kill <pid>` sends SIGTERM, which is forwarded.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else if (process.argv[2] === '--version' || process.argv[2] === '-V') {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  process.stdout.write(`meshlet ${version} (node ${process.versions.node})\n`);
} else {
  const argv = process.argv.slice(2);
  const verb = argv[0];
  const own = verb !== undefined && Object.hasOwn(parts, verb);
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((f) => f.split('=')[0]);
  const missing = own && Object.hasOwn(nodeFlags, verb) ? nodeFlags[verb].filter((f) => !given.includes(f.split('=')[0])) : [];
  if (missing.length > 0 && typeof process.execve === 'function') {
    // Replaces this process (no wrapper left behind); if it cannot, the verb runs without the flags.
    try {
      process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, fileURLToPath(import.meta.url), ...argv], { ...nodeEnv[verb], ...process.env });
    } catch {
      // e.g. an exotic platform: fine, only slower
    }
  }
  const target = own ? ((Object.hasOwn(builds, verb) && upToDateBuild(builds[verb])) || parts[verb]) : upToDateBuild(runtimeBuild) || runtimeCli;
  const args = own ? argv.slice(1) : argv;
  const file = join(root, target);
  if (!existsSync(file)) {
    process.stderr.write(`meshlet: \`${verb}\` is not available in this build (missing ${target})\n`);
    process.exit(1);
  }
  // V8's code cache on disk (os.tmpdir()/node-compile-cache; NODE_COMPILE_CACHE=dir moves it,
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off): a sidecar starts with its ~3 MB bundle compiled
  // already — ready in ~0.4 s instead of ~0.5 s, measured in proxy/README.md ("Built entry").
  // Keyed by content, so an edited module is compiled afresh; never fails the start.
  nodeModule.enableCompileCache();
  const mod = await import(pathToFileURL(file).href);
  await mod.main(args);
}
