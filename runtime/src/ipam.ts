// IP address management for one pod subnet: the bridge takes the first host address, the health
// prober the last, pods get the lowest free address in between. Pure: the allocation table is data
// that the state file persists, so a restarted daemon continues where it left off.
import { ERROR_CODES, RuntimeError } from './errors.ts';
import { hostAddress, hostIndex, parseCidr, type Cidr } from './cidr.ts';

/** Addresses of a mesh subnet that are not for pods. */
export interface SubnetLayout {
  cidr: Cidr;
  /** The bridge (gateway) address: first host. */
  bridgeIp: string;
  /** Source address of the runtime's health probes: last host. Pods let it reach the app port directly. */
  probeIp: string;
}

export function subnetLayout(subnet: string): SubnetLayout {
  const cidr = parseCidr(subnet);
  if (cidr.size < 3) throw new RuntimeError(ERROR_CODES.spec, `subnet ${subnet} is too small: it needs room for the bridge, the prober and a pod`);
  return { cidr, bridgeIp: hostAddress(cidr, 1), probeIp: hostAddress(cidr, cidr.size) };
}

/**
 * Allocates the lowest free pod address. `allocated` holds every address in use (pods); the bridge
 * and probe addresses are never handed out. Released addresses are simply absent from `allocated`
 * and so are reused by the next allocation.
 * @example allocateIp(subnetLayout('10.77.0.0/24'), new Set(['10.77.0.2'])) // '10.77.0.3'
 */
export function allocateIp(layout: SubnetLayout, allocated: ReadonlySet<string>): string {
  const last = layout.cidr.size - 1; // the probe address is host `size`
  for (let n = 2; n <= last; n++) {
    const ip = hostAddress(layout.cidr, n);
    if (!allocated.has(ip)) return ip;
  }
  throw new RuntimeError(ERROR_CODES.ipamExhausted, `no free address left in ${layout.cidr.text} (${last - 1} pods)`, {
    hint: 'use a larger network.subnet, or fewer replicas',
  });
}

/** Allocates `count` addresses at once (for a plan that adds several pods). */
export function allocateIps(layout: SubnetLayout, allocated: ReadonlySet<string>, count: number): string[] {
  const taken = new Set(allocated);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const ip = allocateIp(layout, taken);
    taken.add(ip);
    out.push(ip);
  }
  return out;
}

/** True when `ip` is a pod address of this layout (not the bridge, not the prober, inside the subnet). */
export function isPodAddress(layout: SubnetLayout, ip: string): boolean {
  const n = hostIndex(layout.cidr, ip);
  return n >= 2 && n <= layout.cidr.size - 1;
}
