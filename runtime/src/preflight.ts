// Checks before anything is created: root, tools, subnet clashes with host routes and addresses,
// names already in use, host ports already taken. Facts are gathered once (impure), the verdict is
// a pure function of them, so every check is unit-tested without root.
import { access, constants, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { cidrsOverlap, parseCidr } from './cidr.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import type { Host } from './host.ts';

export interface HostRoute {
  dst: string;
  dev?: string;
  type?: string;
}

export interface HostAddress {
  cidr: string;
  dev: string;
}

/** What the host looks like, as far as a new mesh is concerned. */
export interface HostFacts {
  routes: HostRoute[];
  addresses: HostAddress[];
  links: string[];
  netns: string[];
  /** iptables chains that exist among those asked about. */
  chains: string[];
  /** cgroup paths that exist among those asked about. */
  cgroups: string[];
}

/** The names and ranges a new mesh wants. */
export interface MeshClaims {
  subnet: string;
  vipRange: string;
  bridge: string;
  netns: string[];
  links: string[];
  chains: string[];
  cgroups: string[];
}

/** Every problem with creating the mesh on this host, each a clear error. Pure. */
export function preflightProblems(claims: MeshClaims, facts: HostFacts): RuntimeError[] {
  const problems: RuntimeError[] = [];
  const subnet = parseCidr(claims.subnet);
  const vips = parseCidr(claims.vipRange);
  if (cidrsOverlap(subnet, vips)) {
    problems.push(new RuntimeError(ERROR_CODES.subnetClash, `network.subnet ${claims.subnet} overlaps network.vip_range ${claims.vipRange}`, { hint: 'give them disjoint ranges' }));
  }
  for (const [what, range] of [['network.subnet', subnet], ['network.vip_range', vips]] as const) {
    for (const route of facts.routes) {
      if (route.dst === 'default' || route.dst === '0.0.0.0/0') continue;
      const dst = parseCidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`);
      if (dst.prefix === 32 && route.type === 'local') continue;
      if (cidrsOverlap(range, dst)) {
        problems.push(new RuntimeError(ERROR_CODES.subnetClash, `${what} ${range.text} overlaps the host route ${route.type === undefined || route.type === 'unicast' ? '' : `${route.type} `}${route.dst}${route.dev === undefined ? '' : ` dev ${route.dev}`}`, {
          hint: `pick another ${what} in the mesh spec (e.g. another 10.x.0.0/16), or remove that route`,
        }));
      }
    }
    for (const addr of facts.addresses) {
      const a = parseCidr(addr.cidr);
      const ip = addr.cidr.split('/')[0] as string;
      if (cidrsOverlap(range, a) && !facts.routes.some((r) => r.dev === addr.dev && r.dst === a.text)) {
        problems.push(new RuntimeError(ERROR_CODES.subnetClash, `${what} ${range.text} overlaps address ${ip} on ${addr.dev}`, { hint: `pick another ${what} in the mesh spec` }));
      }
    }
  }
  const inUse = (kind: string, name: string, what: string) =>
    new RuntimeError(ERROR_CODES.nameInUse, `${kind} ${name} already exists`, { hint: what });
  if (facts.links.includes(claims.bridge)) problems.push(inUse('network interface', claims.bridge, 'another mesh or program uses this bridge name: set network.bridge to another name, or run `meshlet down` for the mesh that made it'));
  for (const link of claims.links) if (facts.links.includes(link)) problems.push(inUse('network interface', link, 'left over from a mesh of the same name: run `meshlet down`'));
  for (const ns of claims.netns) if (facts.netns.includes(ns)) problems.push(inUse('network namespace', ns, 'left over from a mesh of the same name: run `meshlet down`'));
  for (const chain of claims.chains) if (facts.chains.includes(chain)) problems.push(inUse('iptables chain', chain, 'left over from a mesh of the same name: run `meshlet down`'));
  for (const cg of claims.cgroups) if (facts.cgroups.includes(cg)) problems.push(inUse('cgroup', cg, 'left over from a mesh of the same name: run `meshlet down`'));
  return problems;
}

/** Gathers `HostFacts` with `ip` and `iptables` (read-only commands). */
export async function gatherHostFacts(host: Host, ask: { chains: string[]; cgroups: string[]; cgroupExists: (p: string) => Promise<boolean> }): Promise<HostFacts> {
  const json = async <T>(argv: string[]): Promise<T[]> => {
    const r = await host.exec(argv);
    return r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as T[]);
  };
  // One listing per table (`-S` prints `-N <chain>` for every user chain) rather than one command per
  // chain and table; all at once: each command is a process start of the daemon, which is what `up` waits on.
  const chainsOf = (table: string) =>
    host.exec(['iptables', '-w', '-t', table, '-S']).then(
      (r) => r.stdout.split('\n').flatMap((line) => (line.startsWith('-N ') ? [line.slice(3).trim()] : [])),
      () => [] as string[],
    );
  const [routes, addrs, links, netns, filterChains, natChains] = await Promise.all([
    json<{ dst: string; dev?: string; type?: string }>(['ip', '-j', '-4', 'route', 'show']),
    json<{ ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }>(['ip', '-j', '-4', 'addr', 'show']),
    json<{ ifname: string }>(['ip', '-j', 'link', 'show']),
    readdir('/run/netns').catch(() => [] as string[]),
    chainsOf('filter'),
    chainsOf('nat'),
  ]);
  const existing = new Set([...filterChains, ...natChains]);
  const chains = ask.chains.filter((chain) => existing.has(chain));
  const cgroups: string[] = [];
  for (const cg of ask.cgroups) if (await ask.cgroupExists(cg)) cgroups.push(cg);
  return {
    routes: routes.map((r) => ({ dst: r.dst, ...(r.dev === undefined ? {} : { dev: r.dev }), ...(r.type === undefined ? {} : { type: r.type }) })),
    addresses: addrs.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet' && !a.local.startsWith('127.')).map((a) => ({ cidr: `${a.local}/${a.prefixlen}`, dev: l.ifname }))),
    links: links.map((l) => l.ifname),
    netns,
    chains,
    cgroups,
  };
}

/** Fails with `ERR_RUNTIME_PORT_IN_USE` when `host:port` cannot be bound right now. */
export async function checkPortFree(host: string, port: number, what: string): Promise<RuntimeError | undefined> {
  if (port === 0) return undefined;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve(
        new RuntimeError(ERROR_CODES.portInUse, `${what}: ${host}:${port} is already in use (${err.code ?? err.message})`, {
          hint: 'stop what listens there, or choose another port in the mesh spec',
        }),
      ),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Programs the netns runtime needs, with the Debian package that brings each. */
export const REQUIRED_TOOLS: Readonly<Record<string, string>> = Object.freeze({
  ip: 'iproute2',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
  runc: 'runc',
  nsenter: 'util-linux',
  sysctl: 'procps',
});

/** Looks a program up on PATH (plus the sbin directories, which a non-login root shell may lack). */
export async function findTool(name: string, path = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function missingTools(): Promise<RuntimeError[]> {
  const out: RuntimeError[] = [];
  for (const [tool, pkg] of Object.entries(REQUIRED_TOOLS)) {
    if ((await findTool(tool)) === undefined) {
      out.push(new RuntimeError(ERROR_CODES.missingTool, `\`${tool}\` is not installed`, { hint: `install the Debian package ${pkg} (scripts/deps.sh does it)` }));
    }
  }
  return out;
}

/** The one line a user without root sees. */
export function needsRootError(verb: string): RuntimeError {
  return new RuntimeError(
    ERROR_CODES.needsRoot,
    `meshlet ${verb} needs root to create network namespaces, veth pairs, a bridge, iptables rules, cgroups and runc containers; run it as root, or use --isolation=process (each pod on its own 127.x address, no root needed)`,
  );
}
