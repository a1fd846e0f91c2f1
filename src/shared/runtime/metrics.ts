import { collectDefaultMetrics, Registry } from 'prom-client';

/** Latency buckets, in seconds, shared by every histogram so dashboards can compare them. */
export const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * One prom-client registry per process, created by main.ts and passed in: no global registry, so
 * tests build their own. Each concern registers its own metrics on it (the API its HTTP metrics,
 * a worker its consumer metrics, payment its gateway metrics); gauges that are read fresh at scrape
 * time (stream lag, outbox backlog) register a hook with `beforeScrape`.
 */
export function createMetricsRegistry(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const hooks: (() => Promise<void>)[] = [];
  return {
    registry,
    contentType: registry.contentType,
    /** Runs before every scrape; a hook that fails leaves its gauges as they were (the process's own counters matter most). */
    beforeScrape(hook: () => Promise<void>) {
      hooks.push(hook);
    },
    /** The Prometheus text. */
    async scrape(): Promise<string> {
      await Promise.allSettled(hooks.map((hook) => hook()));
      return registry.metrics();
    },
  };
}

export type MetricsRegistry = ReturnType<typeof createMetricsRegistry>;
