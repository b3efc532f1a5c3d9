// The mesh CA for `mtls: true` (DESIGN.md "mTLS"): one EC P-256 key and self-signed CA certificate per
// mesh, under `<state>/<mesh>/ca/` (directory 0700, key 0600), made by a recorded plan step so `down`
// and the cleanup after `kill -9` remove it; and per pod a short-lived leaf (EC P-256) with exactly one
// URI SAN, `spiffe://<mesh>/svc/<service>`, re-issued at 2/3 of its life and pushed to the sidecar in
// its config's `tls`.
//
//   plan step mesh/ca:  openssl genpkey ─► ca/ca.key (0600) ─► openssl req -x509 ─► ca/ca.crt
//   per pod (leaf):     openssl req -new -newkey ec (key + CSR on stdout) ─CSR on stdin─► openssl x509 -req -CA
//                       (the leaf key only ever lives in memory and in the pod's sidecar config)
//
// Why the openssl CLI: STYLE.md names no X.509 library, `node:crypto` verifies and parses certificates
// but cannot sign one, and openssl is one Debian package every host already has; it runs through the
// host port (`execFile`, never a shell) like every other program the runtime uses. Only the parsing
// and checking of what openssl produced uses `node:crypto` (`X509Certificate`).
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { spiffeId, type MeshSpec } from '@meshlet/wire';
import type { Step } from './actions.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import type { Host } from './host.ts';

/** Leaf lifetime: openssl 3.0's `x509 -req` counts in whole days. */
export const LEAF_LIFETIME_DAYS = 1; // 24 h
/** Leaves are re-issued once this fraction of their life has passed. */
export const LEAF_RENEW_FRACTION = 2 / 3; // at 16 h of 24 h
/** The CA lives as long as the mesh (it is removed with it); ten years so it never expires under a running mesh. */
export const CA_LIFETIME_DAYS = 3650;

/** Where a mesh's CA files live. */
export interface CaPaths {
  dir: string;
  key: string;
  cert: string;
}

export function caPaths(meshDir: string): CaPaths {
  const dir = join(meshDir, 'ca');
  return { dir, key: join(dir, 'ca.key'), cert: join(dir, 'ca.crt') };
}

/** `openssl genpkey` for an EC P-256 key, to `out` or (without it) to stdout. */
export function ecKeyArgv(out?: string): string[] {
  return ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', ...(out === undefined ? [] : ['-out', out])];
}

/**
 * The plan step that creates the mesh CA; its undo removes the directory (absent is success).
 * @example planMeshCa({ mesh: 'shop', meshDir: '/run/meshlet/shop' }).id // 'mesh/ca'
 */
export function planMeshCa(o: { mesh: string; meshDir: string }): Step {
  const p = caPaths(o.meshDir);
  return {
    id: 'mesh/ca',
    title: `create the mesh CA of ${o.mesh} in ${p.dir}`,
    do: [
      { op: 'mkdir', path: p.dir },
      { op: 'exec', argv: ['chmod', '0700', p.dir] },
      { op: 'exec', argv: ecKeyArgv(p.key) },
      // openssl creates private keys 0600 already; said explicitly so it never depends on that.
      { op: 'exec', argv: ['chmod', '0600', p.key] },
      {
        op: 'exec',
        argv: [
          'openssl', 'req', '-x509', '-new', '-key', p.key, '-sha256', '-days', String(CA_LIFETIME_DAYS),
          '-subj', `/O=meshlet/CN=meshlet mesh ${o.mesh} CA`,
          '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
          '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
          // The SPIFFE trust domain of the mesh (X.509-SVID spec: a signing certificate MAY carry it).
          '-addext', `subjectAltName=URI:spiffe://${o.mesh}`,
          '-out', p.cert,
        ],
      },
    ],
    undo: [{ op: 'remove', path: p.dir }],
  };
}

/**
 * `openssl req -new` that makes a fresh EC P-256 key and a CSR for one service's identity, and writes
 * both to stdout (key first). Files are avoided on purpose: the leaf key never touches the disk (and
 * `/dev/stdin` cannot be opened when stdin is the socket `execFile` gives a child).
 */
export function leafKeyAndCsrArgv(o: { mesh: string; service: string; pod: string }): string[] {
  return [
    'openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '-', '-sha256',
    '-subj', `/O=meshlet/OU=${o.mesh}/CN=${o.pod}`,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature',
    '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    // Exactly one URI SAN: the service's SPIFFE id (X.509-SVID spec).
    '-addext', `subjectAltName=URI:${spiffeId(o.mesh, o.service)}`,
  ];
}

/** `openssl x509 -req` reading the CSR on stdin (no `-in`) and signing it with the mesh CA. */
export function leafSignArgv(ca: CaPaths, lifetimeDays = LEAF_LIFETIME_DAYS): string[] {
  // No -CAserial: openssl 3 picks a random serial and writes no serial file.
  return ['openssl', 'x509', '-req', '-CA', ca.cert, '-CAkey', ca.key, '-sha256', '-days', String(lifetimeDays), '-copy_extensions', 'copyall'];
}

/** The PEM blocks of a text by label (`PRIVATE KEY`, `CERTIFICATE REQUEST`), each with its END line. */
export function pemBlocks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----\r?\n?/g)) {
    if (!out.has(m[1] as string)) out.set(m[1] as string, m[0].endsWith('\n') ? m[0] : `${m[0]}\n`);
  }
  return out;
}

/** What the runtime keeps of a leaf it issued. */
export interface Leaf {
  certPem: string;
  keyPem: string;
  identity: string;
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** Facts read from a certificate. */
export interface CertFacts {
  uris: string[];
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
  isCa: boolean;
}

/** The URIs in an `X509Certificate.subjectAltName` text (`URI:spiffe://m/svc/a, DNS:x`). */
export function sanUris(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** Reads a PEM certificate's SAN URIs, serial, validity and CA flag. */
export function certFacts(pem: string): CertFacts {
  const cert = new X509Certificate(pem);
  return { uris: sanUris(cert.subjectAltName), serial: cert.serialNumber, notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo), isCa: cert.ca };
}

/**
 * Checks a leaf openssl produced before it goes to a sidecar: signed by the CA, not a CA, exactly one
 * URI SAN equal to the expected SPIFFE id, and the key belongs to it. Throws saying what is wrong.
 */
export function checkLeaf(o: { certPem: string; keyPem: string; caPem: string; identity: string }): Leaf {
  const cert = new X509Certificate(o.certPem);
  const ca = new X509Certificate(o.caPem);
  const facts = certFacts(o.certPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw new Error('the leaf certificate is not signed by the mesh CA');
  if (facts.isCa) throw new Error('the leaf certificate is a CA certificate');
  if (facts.uris.length !== 1 || facts.uris[0] !== o.identity) throw new Error(`the leaf certificate carries URI SANs [${facts.uris.join(', ')}], expected exactly ${o.identity}`);
  if (!cert.checkPrivateKey(createPrivateKeyOrThrow(o.keyPem))) throw new Error('the leaf key does not match its certificate');
  return { certPem: o.certPem, keyPem: o.keyPem, identity: o.identity, serial: facts.serial, notBeforeMs: facts.notBeforeMs, notAfterMs: facts.notAfterMs };
}

function createPrivateKeyOrThrow(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    // The key's text never goes into a message.
    throw new Error('the leaf key is not a readable private key');
  }
}

/** When a leaf should be replaced: `fraction` of its life after it became valid. */
export function renewAtMs(leaf: Pick<Leaf, 'notBeforeMs' | 'notAfterMs'>, fraction = LEAF_RENEW_FRACTION): number {
  return leaf.notBeforeMs + Math.floor((leaf.notAfterMs - leaf.notBeforeMs) * fraction);
}

/** Issues one pod's leaf with the mesh CA through the host port (two openssl runs, no files). */
export async function issueLeaf(host: Host, ca: CaPaths & { pem: string }, o: { mesh: string; service: string; pod: string }, lifetimeDays = LEAF_LIFETIME_DAYS): Promise<Leaf> {
  const blocks = pemBlocks((await host.exec(leafKeyAndCsrArgv(o))).stdout);
  const keyPem = blocks.get('PRIVATE KEY');
  const csr = blocks.get('CERTIFICATE REQUEST');
  if (keyPem === undefined || csr === undefined) throw new Error(`openssl req gave no ${keyPem === undefined ? 'private key' : 'certificate request'}`);
  const certPem = (await host.exec(leafSignArgv(ca, lifetimeDays), { stdin: csr })).stdout;
  return checkLeaf({ certPem, keyPem, caPem: ca.pem, identity: spiffeId(o.mesh, o.service) });
}

/**
 * What an mTLS mesh cannot do yet. Published ports: traffic from outside the mesh carries no mesh
 * certificate, and a sidecar under mTLS accepts only mTLS on its inbound listener, so a published port
 * would answer nothing (it needs an ingress that originates mTLS, not built yet).
 */
export function mtlsSpecProblems(spec: MeshSpec): RuntimeError[] {
  if (!spec.mtls) return [];
  return Object.entries(spec.services)
    .filter(([, svc]) => svc.publish.length > 0)
    .map(
      ([name]) =>
        new RuntimeError(ERROR_CODES.unsupported, `services.${name}.publish does not work with mtls: true yet: callers from outside the mesh have no mesh certificate, and under mTLS a sidecar accepts only mTLS`, {
          hint: 'remove publish (reach the service from a pod, or with `meshlet exec`), or run this mesh without mtls',
        }),
    );
}
