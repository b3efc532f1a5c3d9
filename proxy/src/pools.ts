// One undici Pool per upstream address, shared by every destination and config revision that names
// it, so a config change keeps warm keep-alive connections. Pools no longer named are closed
// gracefully (in-flight requests finish first).
//
// Pool comes from its own module, not from undici's index: the index loads all of undici (fetch,
// WebSocket, the cache, mocks, interceptors; ~60 % of undici's start-up CPU) and the sidecar only
// dispatches through pools. (The index would also add the `request()`-style helpers to every
// dispatcher; the sidecar calls `dispatch` only.)
import type { Pool } from 'undici';
import PoolClass from 'undici/lib/dispatcher/pool.js';
import type { LimitsConfig } from '@meshlet/wire';
import { clientTlsOptions, type TlsMaterial } from './mtls.ts';

export interface PoolOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  /** Max connections per address (null: unlimited). */
  connections: number | null;
  /** mTLS material for connections to other sidecars (null: plain HTTP). */
  tls: TlsMaterial | null;
}

export function poolOptions(limits: LimitsConfig, tls: TlsMaterial | null = null): PoolOptions {
  return {
    tls,
    connectTimeoutMs: limits.connectTimeoutMs,
    keepAliveTimeoutMs: limits.upstreamIdleTimeoutMs,
    maxHeaderBytes: limits.maxHeaderBytes,
    connections: null,
  };
}

export class Pools {
  private readonly pools = new Map<string, Pool>();
  private options: PoolOptions;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /**
   * The pool for `address`. With `identity` (and TLS material) the connection is mTLS and the endpoint
   * must present that SPIFFE id; the local app is always reached in plain HTTP (no identity).
   */
  get(address: string, identity: string | null = null): Pool {
    const tls = identity === null ? null : this.options.tls;
    const key = tls === null ? address : `${address}#${identity}#${this.generation}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new PoolClass(`${tls === null ? 'http' : 'https'}://${address}`, {
        ...(tls === null ? {} : { connect: clientTlsOptions(tls, identity as string) }),
        connections: this.options.connections,
        connectTimeout: this.options.connectTimeoutMs,
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.options.keepAliveTimeoutMs,
        maxHeaderSize: this.options.maxHeaderBytes,
        headersTimeout: 0,
        bodyTimeout: 300_000, // 5 min between body chunks: long streams stay up, a dead peer does not
        pipelining: 1,
        // Keep-alive, and never a reused socket after an upstream parse error (undici destroys it).
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Bumped when the TLS material changes, so new connections use the new certificate. */
  private generation = 0;

  /** New limits apply to pools made from now on; existing pools keep theirs until retired. */
  setOptions(options: PoolOptions): void {
    const old = this.options.tls;
    if (old?.certPem !== options.tls?.certPem || old?.caPem !== options.tls?.caPem || old?.keyPem !== options.tls?.keyPem) this.generation++;
    this.options = options;
  }

  /** Closes pools not handed out since the last `retain` (graceful: pending requests complete). */
  retain(keep: ReadonlySet<Pool>): void {
    for (const [key, pool] of this.pools) {
      if (keep.has(pool)) continue;
      this.pools.delete(key);
      void pool.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => {})));
  }

  async destroy(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
