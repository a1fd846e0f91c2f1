/**
 * The sandbox's own rate limit, in fixed one-second windows: the `limit`+1-th request of a second
 * is refused. Stripe's limiter is not documented beyond "requests per second"; a fixed window is the
 * strictest reading, so a client kept under it is under Stripe's.
 */
export class PerSecondLimit {
  private second = -1;
  private used = 0;

  /** May one more request go now? `limit` 0 means no limit. */
  allow(limit: number, nowMs: number): boolean {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.second) {
      this.second = second;
      this.used = 0;
    }
    if (limit > 0 && this.used >= limit) return false;
    this.used += 1;
    return true;
  }
}
