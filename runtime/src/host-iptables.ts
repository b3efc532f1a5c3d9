// The host's iptables rules for one mesh, as pure functions. Every rule lives in chains named after
// the mesh (`ML-<tag>-*`), reached by one jump from a built-in chain, so teardown is: delete the jumps,
// flush and delete the chains — and a leak check is a grep for the tag.
//
//   filter FORWARD    ─► ML-x-FWD   pod ↔ pod on the bridge, replies, DNAT'd published traffic, NAT egress
//   nat PREROUTING    ─► ML-x-PUB   (dst-type LOCAL) published host ports → DNAT to a ready pod's app port
//   nat OUTPUT        ─► ML-x-PUB   the same for connections made on the host itself
//   nat POSTROUTING   ─► ML-x-POST  MASQUERADE published traffic into the bridge (pods have no default
//                                   route, so replies must go to the bridge address) and `egress: nat`
import type { MeshNames } from './names.ts';

export interface HostRulesOptions {
  chains: MeshNames['chains'];
  bridge: string;
  subnet: string;
  egress: 'none' | 'nat';
}

/** A published port and where it goes now (ready pods' `ip:port`; empty when none is ready). */
export interface PublishTarget {
  hostIp: string;
  hostPort: number;
  targets: readonly string[];
}

/** `iptables-restore --noflush` input that creates the mesh's chains and jumps. */
export function hostRulesRestore(o: HostRulesOptions): string {
  const { forward, publish, postrouting } = o.chains;
  const br = o.bridge;
  const filter = [
    '*filter',
    `:${forward} - [0:0]`,
    `-I FORWARD 1 -j ${forward}`,
    `-A ${forward} -i ${br} -o ${br} -j ACCEPT`,
    `-A ${forward} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${forward} -o ${br} -m conntrack --ctstate DNAT -j ACCEPT`,
    ...(o.egress === 'nat' ? [`-A ${forward} -i ${br} ! -o ${br} -j ACCEPT`] : []),
    'COMMIT',
  ];
  const nat = [
    '*nat',
    `:${publish} - [0:0]`,
    `:${postrouting} - [0:0]`,
    `-A PREROUTING -m addrtype --dst-type LOCAL -j ${publish}`,
    `-A OUTPUT -m addrtype --dst-type LOCAL -j ${publish}`,
    `-A POSTROUTING -j ${postrouting}`,
    `-A ${postrouting} -o ${br} -m conntrack --ctstate DNAT ! -s ${o.subnet} -j MASQUERADE`,
    ...(o.egress === 'nat' ? [`-A ${postrouting} -s ${o.subnet} ! -o ${br} -j MASQUERADE`] : []),
    'COMMIT',
  ];
  return [...filter, ...nat, ''].join('\n');
}

/** argv lists that remove everything `hostRulesRestore` created; each may find its object gone. */
export function hostRulesRemoval(chains: MeshNames['chains']): string[][] {
  const ipt = (...args: string[]) => ['iptables', '-w', ...args];
  return [
    ipt('-t', 'filter', '-D', 'FORWARD', '-j', chains.forward),
    ipt('-t', 'nat', '-D', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', chains.publish),
    ipt('-t', 'nat', '-D', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', chains.publish),
    ipt('-t', 'nat', '-D', 'POSTROUTING', '-j', chains.postrouting),
    ipt('-t', 'filter', '-F', chains.forward),
    ipt('-t', 'filter', '-X', chains.forward),
    ipt('-t', 'nat', '-F', chains.publish),
    ipt('-t', 'nat', '-X', chains.publish),
    ipt('-t', 'nat', '-F', chains.postrouting),
    ipt('-t', 'nat', '-X', chains.postrouting),
  ];
}

/**
 * `iptables-restore --noflush` input that replaces the publish chain's rules: each host port spreads
 * new connections evenly over its targets (`statistic --mode random`, like kube-proxy).
 */
export function publishRestore(chain: string, entries: readonly PublishTarget[]): string {
  const lines = ['*nat', `:${chain} - [0:0]`];
  for (const entry of entries) {
    const match = [...(entry.hostIp === '0.0.0.0' ? [] : ['-d', `${entry.hostIp}/32`]), '-p', 'tcp', '-m', 'tcp', '--dport', String(entry.hostPort)];
    entry.targets.forEach((target, i) => {
      const remaining = entry.targets.length - i;
      const spread = remaining > 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', (1 / remaining).toFixed(5)] : [];
      lines.push(['-A', chain, ...match, ...spread, '-j', 'DNAT', '--to-destination', target].join(' '));
    });
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}
