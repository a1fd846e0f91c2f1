import type { EndpointName, FaultConfig, FaultKind, FaultRule } from './fault-config.ts';
import { seededRandom } from './seeded-random.ts';

export interface RuleCount {
  rule: FaultRule;
  /** Requests the rule was asked about (its endpoint, at its point of the request). */
  matched: number;
  fired: number;
}

/**
 * Decides which faults hit a request. Each fault is asked about at its own point of the request
 * (a 429 before anything, a 500 before the effect, ...), so a rule counts only the requests that
 * reach that point: `{ fault: 'error_after', every: 2 }` hits every 2nd request that made a change.
 * No clock: given the same config and the same requests, it decides the same.
 */
export class FaultSwitch {
  private current!: FaultConfig;
  private counts: RuleCount[] = [];
  private random: () => number = Math.random;

  constructor(config: FaultConfig) {
    this.set(config);
  }

  /** Replaces the config; counters and the random restart. */
  set(config: FaultConfig): void {
    this.current = config;
    this.counts = config.rules.map((rule) => ({ rule, matched: 0, fired: 0 }));
    this.random = seededRandom(config.seed);
  }

  get config(): FaultConfig {
    return this.current;
  }

  get ruleCounts(): readonly RuleCount[] {
    return this.counts;
  }

  /** The first rule of `kind` that hits this request at `endpoint`, if any. */
  draw(kind: FaultKind, endpoint: EndpointName): FaultRule | undefined {
    let hit: FaultRule | undefined;
    for (const count of this.counts) {
      const { rule } = count;
      if (rule.fault !== kind || (rule.endpoints && !rule.endpoints.includes(endpoint))) continue;
      if (rule.times !== undefined && count.fired >= rule.times) continue;
      count.matched += 1;
      // A rule that does not hit still counts the request, so `every` and `rate` stay per rule.
      if (hit) continue;
      const fires = rule.every !== undefined ? count.matched % rule.every === 0 : this.random() < (rule.rate ?? 1);
      if (fires) {
        count.fired += 1;
        hit = rule;
      }
    }
    return hit;
  }

  /** How long to hold this request's answer: the latency rule that hits it, plus its jitter. */
  latencyMs(endpoint: EndpointName): number {
    const rule = this.draw('latency', endpoint);
    if (!rule) return 0;
    return (rule.ms ?? 0) + Math.floor(this.random() * ((rule.jitterMs ?? 0) + 1));
  }
}
