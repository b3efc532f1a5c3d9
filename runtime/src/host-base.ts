// The read-only "host base" of app containers: which host directories are bound into them.
import type { HostBase } from './plan.ts';

/**
 * Adds meshlet's own install directory (read-only) unless a bound directory already holds it, so a
 * service can run meshlet's tools in its pod, e.g. a load generator `node <install>/bin/meshlet.js
 * bench ...` (bin/meshlet.js finds the Node 24 that `npm ci` put in the install's node_modules).
 * @example withInstallDir({ dirs: ['/usr', '/etc'], symlinks: {} }, '/root/meshlet').dirs // ['/usr', '/etc', '/root/meshlet']
 */
export function withInstallDir(base: HostBase, installDir: string): HostBase {
  const covered = base.dirs.some((d) => installDir === d || installDir.startsWith(`${d.replace(/\/$/, '')}/`));
  return covered ? base : { ...base, dirs: [...base.dirs, installDir] };
}
