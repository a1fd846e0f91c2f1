import type { EndpointName } from '../faults/fault-config.ts';

/** How many seconds of per-second counts are kept for GET /_sandbox/stats. */
const KEEP_SECONDS = 120;

/** API requests counted as they arrive: in all, per endpoint, per second, and those refused by the rate limit. */
export class RequestStats {
  private total = 0;
  private rateLimited = 0;
  private byEndpoint: Partial<Record<EndpointName, number>> = {};
  private perSecond = new Map<number, number>();

  count(endpoint: EndpointName, nowMs: number): void {
    this.total += 1;
    this.byEndpoint[endpoint] = (this.byEndpoint[endpoint] ?? 0) + 1;
    const second = Math.floor(nowMs / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    for (const old of this.perSecond.keys()) {
      if (old > second - KEEP_SECONDS) break;
      this.perSecond.delete(old);
    }
  }

  countRateLimited(): void {
    this.rateLimited += 1;
  }

  snapshot() {
    const perSecond = [...this.perSecond].map(([second, count]) => ({ second, count }));
    return {
      total: this.total,
      by_endpoint: { ...this.byEndpoint },
      rate_limited: this.rateLimited,
      per_second: perSecond,
      max_per_second: Math.max(0, ...perSecond.map((entry) => entry.count)),
    };
  }

  reset(): void {
    this.total = 0;
    this.rateLimited = 0;
    this.byEndpoint = {};
    this.perSecond.clear();
  }
}
