// The retry budget (DESIGN.md "retry"): over a sliding window, retries may add at most `ratio` of the
// requests plus `minRetriesPerSecond` per second, so retries never turn an outage into an overload.
// Like Linkerd's and Finagle's budgets: requests deposit, retries withdraw.
import type { RetryBudgetConfig } from '@meshlet/wire';

const BUCKETS = 10;

export class RetryBudget {
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private bucketMs: number;
  private current = 0;
  private currentStartMs: number;
  private config: RetryBudgetConfig;
  private readonly now: () => number;

  constructor(config: RetryBudgetConfig, now: () => number) {
    this.config = config;
    this.now = now;
    this.bucketMs = config.windowMs / BUCKETS;
    this.currentStartMs = now();
  }

  update(config: RetryBudgetConfig): void {
    if (config.windowMs !== this.config.windowMs) {
      this.requests.fill(0);
      this.retries.fill(0);
      this.bucketMs = config.windowMs / BUCKETS;
      this.currentStartMs = this.now();
    }
    this.config = config;
  }

  private advance(): void {
    const now = this.now();
    let steps = Math.floor((now - this.currentStartMs) / this.bucketMs);
    if (steps <= 0) return;
    if (steps > BUCKETS) steps = BUCKETS;
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % BUCKETS;
      this.requests[this.current] = 0;
      this.retries[this.current] = 0;
    }
    this.currentStartMs = now - ((now - this.currentStartMs) % this.bucketMs);
  }

  /** Counts one original request. */
  deposit(): void {
    this.advance();
    (this.requests as Float64Array)[this.current]! += 1;
  }

  /** Retries the window allows in total. */
  allowed(): number {
    let requests = 0;
    for (let i = 0; i < BUCKETS; i++) requests += this.requests[i] as number;
    return this.config.ratio * requests + this.config.minRetriesPerSecond * (this.config.windowMs / 1000);
  }

  /** Retries made in the window. */
  used(): number {
    this.advance();
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) retries += this.retries[i] as number;
    return retries;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    if (this.used() + 1 > this.allowed()) return false;
    (this.retries as Float64Array)[this.current]! += 1;
    return true;
  }

  /** used / allowed, for the budget gauge. */
  usedRatio(): number {
    const allowed = this.allowed();
    return allowed === 0 ? 1 : Math.min(1, this.used() / allowed);
  }
}
