// The iptables rules inside a pod's network namespace, from one pure function. The runtime feeds the
// result to `iptables-restore` in each pod; `meshlet inject` (deploy/kubernetes) puts the same text in
// its iptables init container, so a pod is captured the same way on one host and on Kubernetes.
// No I/O and no imports.
//
//   app ──connect(VIP:port)──► nat OUTPUT ─► MESHLET_OUTPUT ─REDIRECT─► 127.0.0.1:15001 (sidecar outbound)
//   peer ─► eth0 ─► nat PREROUTING ─► MESHLET_INBOUND ─REDIRECT─► :15006 (sidecar inbound) ─► 127.0.0.1:<app port>
//   (optional lockdown, filter table)
//   app ──connect(other pod IP)──► filter OUTPUT ─► MESHLET_EGRESS ─► REJECT   (only the sidecar's uid may)
//   peer ──► eth0 ─► filter INPUT ─► MESHLET_INGRESS ─► only the sidecar's ports (and the prober) get in

/** uid the sidecar runs as (Istio's habit): its traffic is exempt from the redirects. */
export const DEFAULT_SIDECAR_UID = 1337;

/** What to capture and what to leave alone. */
export interface PodIptablesOptions {
  /** uid the sidecar runs as: its own connections are never redirected or blocked (no loops). */
  sidecarUid: number;
  /** Sidecar inbound listener, e.g. 15006. */
  inboundPort: number;
  /** Sidecar outbound listener, e.g. 15001. */
  outboundPort: number;
  /** Interface that inbound traffic arrives on (`eth0`); undefined: any interface but `lo`. */
  inboundInterface?: string;
  /** App ports whose inbound traffic goes to the sidecar, or `'all'` TCP ports. */
  inboundPorts: readonly number[] | 'all';
  /** Ports never redirected inbound (in `'all'` mode the sidecar's own ports are always excluded). */
  excludeInboundPorts?: readonly number[];
  /** Sources whose inbound traffic is not redirected (the runtime's health prober). */
  inboundBypassSources?: readonly string[];
  /** Destinations (CIDRs, e.g. the VIP range) whose outbound TCP goes to the sidecar, or `'all'`. */
  outboundCidrs: readonly string[] | 'all';
  excludeOutboundCidrs?: readonly string[];
  excludeOutboundPorts?: readonly number[];
  /**
   * Lockdown (runtime only): processes other than the sidecar may not open connections to `cidr` except
   * to `allow`; from outside, only `inboundAllowPorts` (and bypass sources to `bypassPorts`) get in.
   */
  lockdown?: {
    interface: string;
    cidr: string;
    allow?: readonly { ip: string; port: number }[];
    inboundAllowPorts: readonly number[];
    bypassPorts?: readonly number[];
  };
}

/** Rules in two equivalent forms. */
export interface PodIptablesRules {
  /** Input for `iptables-restore` (replaces the tables it names). */
  restore: string;
  /** The same as `iptables` argv lists, for hosts without `iptables-restore`. */
  commands: string[][];
}

export const POD_CHAINS = Object.freeze({
  inbound: 'MESHLET_INBOUND',
  outbound: 'MESHLET_OUTPUT',
  ingress: 'MESHLET_INGRESS',
  egress: 'MESHLET_EGRESS',
});

type Table = 'nat' | 'filter';
interface Rules {
  chains: Record<Table, string[]>;
  rules: Record<Table, string[][]>;
}

const tcpDport = (port: number) => ['-p', 'tcp', '-m', 'tcp', '--dport', String(port)];

/**
 * @example
 * const { restore } = podIptablesRules({
 *   sidecarUid: 1337, inboundPort: 15006, outboundPort: 15001, inboundInterface: 'eth0',
 *   inboundPorts: [8080], outboundCidrs: ['10.78.0.0/16'],
 * });
 * // *nat … -A MESHLET_INBOUND -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15006 …
 */
export function podIptablesRules(o: PodIptablesOptions): PodIptablesRules {
  for (const port of [o.inboundPort, o.outboundPort, ...(o.inboundPorts === 'all' ? [] : o.inboundPorts)]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`not a port: ${port}`);
  }
  const r: Rules = { chains: { nat: [], filter: [] }, rules: { nat: [], filter: [] } };
  const add = (table: Table, ...rule: string[]) => r.rules[table].push(rule);
  const { inbound, outbound, ingress, egress } = POD_CHAINS;
  const uid = String(o.sidecarUid);

  // Inbound: mesh → app goes through the sidecar.
  r.chains.nat.push(inbound);
  add('nat', '-A', 'PREROUTING', ...(o.inboundInterface === undefined ? ['!', '-i', 'lo'] : ['-i', o.inboundInterface]), '-p', 'tcp', '-j', inbound);
  for (const source of o.inboundBypassSources ?? []) add('nat', '-A', inbound, '-s', hostCidr(source), '-j', 'RETURN');
  const excludedIn = o.inboundPorts === 'all' ? unique([o.inboundPort, o.outboundPort, ...(o.excludeInboundPorts ?? [])]) : (o.excludeInboundPorts ?? []);
  for (const port of excludedIn) add('nat', '-A', inbound, ...tcpDport(port), '-j', 'RETURN');
  if (o.inboundPorts === 'all') add('nat', '-A', inbound, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.inboundPort));
  else for (const port of unique(o.inboundPorts)) add('nat', '-A', inbound, ...tcpDport(port), '-j', 'REDIRECT', '--to-ports', String(o.inboundPort));

  // Outbound: app → mesh goes through the sidecar; the sidecar's own traffic passes.
  r.chains.nat.push(outbound);
  add('nat', '-A', 'OUTPUT', '-p', 'tcp', '-j', outbound);
  add('nat', '-A', outbound, '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN');
  for (const cidr of o.excludeOutboundCidrs ?? []) add('nat', '-A', outbound, '-d', cidr, '-j', 'RETURN');
  for (const port of o.excludeOutboundPorts ?? []) add('nat', '-A', outbound, ...tcpDport(port), '-j', 'RETURN');
  if (o.outboundCidrs === 'all') {
    add('nat', '-A', outbound, '-o', 'lo', '-j', 'RETURN');
    add('nat', '-A', outbound, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.outboundPort));
  } else {
    for (const cidr of o.outboundCidrs) add('nat', '-A', outbound, '-d', cidr, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.outboundPort));
  }

  if (o.lockdown !== undefined) {
    const l = o.lockdown;
    r.chains.filter.push(ingress, egress);
    add('filter', '-A', 'INPUT', '-i', l.interface, '-j', ingress);
    add('filter', '-A', ingress, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    for (const port of unique(l.inboundAllowPorts)) add('filter', '-A', ingress, ...tcpDport(port), '-j', 'ACCEPT');
    for (const source of o.inboundBypassSources ?? []) {
      for (const port of l.bypassPorts ?? []) add('filter', '-A', ingress, '-s', hostCidr(source), ...tcpDport(port), '-j', 'ACCEPT');
    }
    add('filter', '-A', ingress, '-j', 'REJECT');
    add('filter', '-A', 'OUTPUT', '-o', l.interface, '-j', egress);
    add('filter', '-A', egress, '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN');
    // Replies (SYN-ACK, RST) have no owning socket and would match `! --uid-owner`: let non-NEW pass.
    add('filter', '-A', egress, '-m', 'conntrack', '!', '--ctstate', 'NEW', '-j', 'RETURN');
    for (const a of l.allow ?? []) add('filter', '-A', egress, '-d', hostCidr(a.ip), ...tcpDport(a.port), '-j', 'RETURN');
    add('filter', '-A', egress, '-d', l.cidr, '-j', 'REJECT');
  }

  const tables: Table[] = r.rules.filter.length > 0 ? ['nat', 'filter'] : ['nat'];
  const restore = tables
    .map((table) => [`*${table}`, ...r.chains[table].map((c) => `:${c} - [0:0]`), ...r.rules[table].map((rule) => rule.map(quote).join(' ')), 'COMMIT'].join('\n'))
    .join('\n')
    .concat('\n');
  const commands = tables.flatMap((table) => [
    ...r.chains[table].map((c) => ['iptables', '-w', '-t', table, '-N', c]),
    ...r.rules[table].map((rule) => ['iptables', '-w', '-t', table, ...rule]),
  ]);
  return { restore, commands };
}

function hostCidr(ip: string): string {
  return ip.includes('/') ? ip : `${ip}/32`;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

// iptables-restore splits on whitespace and honours double quotes; none of our tokens need them,
// but a token with a space (an interface name cannot have one) would be quoted rather than split.
function quote(token: string): string {
  return /\s/.test(token) ? `"${token}"` : token;
}
