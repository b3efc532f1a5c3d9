// mTLS between sidecars (DESIGN.md "mTLS"): the runtime, as the mesh CA, hands each sidecar a leaf
// certificate with exactly one SPIFFE URI SAN, `spiffe://<mesh>/svc/<service>`. The inbound listener
// requires and verifies a client certificate from the mesh CA; outbound connections verify that the
// endpoint presents the destination's identity (not a host name: endpoints are pod IPs).
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { SidecarConfig } from '@meshlet/wire';

export type TlsMaterial = NonNullable<SidecarConfig['tls']>;

/** The SPIFFE URIs in a certificate's subjectAltName (`URI:spiffe://...`). */
export function spiffeIds(cert: Pick<PeerCertificate, 'subjectaltname'> | null | undefined): string[] {
  const san = cert?.subjectaltname;
  if (typeof san !== 'string') return [];
  const out: string[] = [];
  for (const part of san.split(',')) {
    const item = part.trim();
    if (item.startsWith('URI:spiffe://')) out.push(item.slice(4));
  }
  return out;
}

/** The service a SPIFFE id names (`spiffe://mesh/svc/orders` → `orders`), or null. */
export function serviceOfSpiffe(id: string): string | null {
  const m = /^spiffe:\/\/[^/]+\/svc\/([^/]+)$/.exec(id);
  return m === null ? null : (m[1] as string);
}

const peerIds = new WeakMap<TLSSocket, string | null>();

/** The verified SPIFFE id of the client on an mTLS socket (cached per connection), or null. */
export function peerSpiffe(socket: TLSSocket): string | null {
  let id = peerIds.get(socket);
  if (id === undefined) {
    id = socket.authorized ? (spiffeIds(socket.getPeerCertificate()).at(0) ?? null) : null;
    peerIds.set(socket, id);
  }
  return id;
}

/** Server options for the inbound listener: a client certificate from the mesh CA is required. */
export function serverTlsOptions(tls: TlsMaterial) {
  return { key: tls.keyPem, cert: tls.certPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const };
}

/**
 * Client options for connections to a destination's sidecars: our certificate, the mesh CA, and an
 * identity check in place of the host name check.
 */
export function clientTlsOptions(tls: TlsMaterial, expectedIdentity: string) {
  return {
    key: tls.keyPem,
    cert: tls.certPem,
    ca: tls.caPem,
    minVersion: 'TLSv1.2' as const,
    servername: 'meshlet',
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      const ids = spiffeIds(cert);
      if (ids.includes(expectedIdentity)) return undefined;
      return Object.assign(new Error(`the endpoint presented ${ids.join(', ') || 'no SPIFFE id'}, expected ${expectedIdentity}`), { code: 'ERR_PROXY_TLS_IDENTITY' });
    },
  };
}
