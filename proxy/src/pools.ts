// One undici Pool per upstream address, shared by every destination and config revision that names
// it, so a config change keeps warm keep-alive connections. Pools no longer named are closed
// gracefully (in-flight requests finish first).
import { Pool } from 'undici';
import type { LimitsConfig } from '@meshlet/wire';

export interface PoolOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  /** Max connections per address (null: unlimited). */
  connections: number | null;
}

export function poolOptions(limits: LimitsConfig): PoolOptions {
  return {
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

  get(address: string): Pool {
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, {
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
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** New limits apply to pools made from now on; existing pools keep theirs until retired. */
  setOptions(options: PoolOptions): void {
    this.options = options;
  }

  /** Closes pools of addresses not in `keep` (graceful: pending requests complete). */
  retain(keep: ReadonlySet<string>): void {
    for (const [address, pool] of this.pools) {
      if (keep.has(address)) continue;
      this.pools.delete(address);
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
