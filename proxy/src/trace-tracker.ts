// Trace ids of the inbound requests in flight, so the outbound side can tell whether the app passed
// the trace context on (DESIGN.md "context": the sidecar notices apps that do not propagate).
export class TraceTracker {
  private readonly counts = new Map<string, number>();
  begin(traceId: string): void {
    this.counts.set(traceId, (this.counts.get(traceId) ?? 0) + 1);
  }
  end(traceId: string): void {
    const n = this.counts.get(traceId);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(traceId);
    else this.counts.set(traceId, n - 1);
  }
  has(traceId: string): boolean {
    return this.counts.has(traceId);
  }
  size(): number {
    return this.counts.size;
  }
}
