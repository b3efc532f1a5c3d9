// IPv4 arithmetic for subnets, VIP ranges and IPAM. Addresses are unsigned 32-bit numbers inside.

/** A parsed IPv4 CIDR. `network` and `broadcast` are numbers; `prefix` is 0..32. */
export interface Cidr {
  readonly network: number;
  readonly prefix: number;
  readonly broadcast: number;
  /** Usable host addresses (network and broadcast excluded). */
  readonly size: number;
  readonly text: string;
}

/** `'10.1.2.3'` → number; throws on a malformed address. */
export function ipToNumber(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new Error(`not an IPv4 address: ${ip}`);
    n = n * 256 + Number(part);
  }
  return n;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Parses `a.b.c.d/p` and normalises it to its network address.
 * @example parseCidr('10.77.3.4/16').text // '10.77.0.0/16'
 */
export function parseCidr(text: string): Cidr {
  const [ip, bits, ...rest] = text.split('/');
  if (ip === undefined || bits === undefined || rest.length > 0 || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) {
    throw new Error(`not an IPv4 CIDR: ${text}`);
  }
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToNumber(ip) & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { network, prefix, broadcast, size: Math.max(0, broadcast - network - 1), text: `${numberToIp(network)}/${prefix}` };
}

export function cidrContains(cidr: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : ipToNumber(ip);
  return n >= cidr.network && n <= cidr.broadcast;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}

/** The n-th host address of a CIDR (1 = first usable). */
export function hostAddress(cidr: Cidr, n: number): string {
  if (n < 1 || n > cidr.size) throw new Error(`host ${n} is outside ${cidr.text}`);
  return numberToIp(cidr.network + n);
}

/** Position of an address inside a CIDR (inverse of `hostAddress`). */
export function hostIndex(cidr: Cidr, ip: string): number {
  return ipToNumber(ip) - cidr.network;
}

/**
 * The same offsets on loopback: `10.77.0.0/16` → `127.77.0.0/16`. Used by `--isolation=process`, where
 * each pod gets its own 127.x address instead of a namespace (Linux routes all of 127/8 to `lo`).
 */
export function loopbackTwin(cidr: Cidr): Cidr {
  if (cidr.prefix < 8) throw new Error(`${cidr.text} is wider than /8; a loopback twin needs /8 or narrower`);
  const offset = cidr.network & 0x00ffffff;
  return parseCidr(`${numberToIp((127 * 2 ** 24 + offset) >>> 0)}/${cidr.prefix}`);
}
