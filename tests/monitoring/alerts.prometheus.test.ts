import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { loadDashboards, loadPrometheusConfig, loadRules, panelQueries } from '../helpers/monitoring.ts';
import { havePrometheus, PROMETHEUS, startPrometheus, type ActiveAlert, type RunningPrometheus } from '../helpers/prometheus.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

// bash .ci/run installs Debian's prometheus and fails if it cannot, so CI always runs this file; elsewhere say why it is skipped.
if (!havePrometheus) console.warn(`skipping the Prometheus alert test: no prometheus at ${PROMETHEUS} (apt-get install prometheus, or set PROMETHEUS_PATH)`);

let pipeline: Pipeline;
let prometheus: RunningPrometheus | undefined;
const processes: Partial<Record<'api' | 'payment' | 'notify', RunningService>> = {};

/**
 * The real rules with every `for:` cut to 1 s, so an alert fires within seconds of its condition
 * holding; the expressions, thresholds and ranges are the real ones.
 */
async function testRules(): Promise<string> {
  const rules = await loadRules();
  const quick = rules.map((rule) => ({ ...rule, ...(rule.for ? { for: '1s' } : {}) }));
  return JSON.stringify({ groups: [{ name: 'order-service-under-test', rules: quick }] }, null, 2);
}

/** monitoring/prometheus.yml with the same jobs, scraping this test's processes on their ports every second. */
async function testConfig(): Promise<object> {
  const real = await loadPrometheusConfig();
  return {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ['order-service.rules.yml'],
    scrape_configs: real.scrape_configs.map(({ job_name }) => {
      const service = processes[job_name as keyof typeof processes];
      if (!service) throw new Error(`monitoring/prometheus.yml scrapes ${job_name}, which this test does not run`);
      return { job_name, static_configs: [{ targets: [`127.0.0.1:${service.port}`] }] };
    }),
  };
}

beforeAll(async () => {
  if (!havePrometheus) return;
  pipeline = await createPipeline('prometheus_alerts');
  [processes.api, processes.payment, processes.notify] = await Promise.all([
    pipeline.spawn('api'),
    pipeline.spawn('payment', { CONSUMER_NAME: 'payment-prometheus' }),
    pipeline.spawn('notify', { CONSUMER_NAME: 'notify-prometheus' }),
  ]);
  prometheus = await startPrometheus(await testConfig(), { 'order-service.rules.yml': await testRules() });
});
afterAll(async () => {
  try {
    await prometheus?.stop();
  } finally {
    await killAll();
    await pipeline?.close();
  }
});

/** Places an order on the real API every 50 ms until stopped; at most 1,200 (a minute's worth), whatever happens. */
function orderFlow() {
  let placed = 0;
  const failures: string[] = [];
  const timer = setInterval(() => {
    if (++placed > 1200) return clearInterval(timer);
    fetch(`http://127.0.0.1:${processes.api!.port}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'alerts@example.com' }),
    }).then(
      (res) => void (res.status !== 201 && failures.push(`POST /orders answered ${res.status}`)),
      (error: Error) => void failures.push(error.message),
    );
  }, 50);
  return { failures, stop: () => clearInterval(timer), placed: () => placed };
}

const lagAlert = (alerts: ActiveAlert[]) => alerts.find((a) => a.labels.alertname === 'StreamLagGrowing' && a.labels.group === 'notify-email');

describe.skipIf(!havePrometheus)('the alert rules in a real Prometheus scraping the real processes', () => {
  it('scrapes every process, and every dashboard query runs', async () => {
    const prom = prometheus!;
    const up = await waitFor(
      async () => {
        const series = await prom.query('up == 1');
        return series.length === 3 && series;
      },
      { what: 'all three targets up', timeoutMs: 15_000 },
    );
    expect(up.map((s) => s.metric.job).toSorted()).toEqual(['api', 'notify', 'payment']);

    // The panels as Grafana sends them, with its $__rate_interval filled in; each must parse, and each panel show data.
    const queries = panelQueries(await loadDashboards());
    const empty = new Set(queries.map((q) => q.where));
    await waitFor(
      async () => {
        for (const { where, expr } of queries) {
          if ((await prom.query(expr.replaceAll('$__rate_interval', '30s'))).length > 0) empty.delete(where);
        }
        // A few orders make the rates and latencies non-empty.
        if (empty.size > 0) await pipeline.placeOrder('panels@example.com');
        return empty.size === 0;
      },
      { what: `every panel to show data (still empty: ${[...empty].join(', ')})`, timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  it('fires StreamLagGrowing when the notify worker stops while orders flow, and clears it once the worker is back', async () => {
    const prom = prometheus!;
    const notifyPort = processes.notify!.port!;
    // Not firing before: with notify reading, the lag stays at zero however many orders flow.
    expect(lagAlert(await prom.alerts())?.state).not.toBe('firing');
    const flow = orderFlow();
    try {
      await processes.notify!.stop('SIGTERM');
      const firing = await waitFor(async () => {
        const alert = lagAlert(await prom.alerts());
        return alert?.state === 'firing' && alert;
      }, { what: 'StreamLagGrowing firing for notify-email', timeoutMs: 30_000, intervalMs: 250 });
      expect(firing.labels).toMatchObject({ stream: 'payment.completed', severity: 'warning' });
      expect(Number(firing.value)).toBeGreaterThan(0);
      expect(firing.annotations.runbook).toBe('docs/operating.md#streamlaggrowing');
      // Its /metrics is gone too: absent(up == 1) sees a service with no live target.
      await waitFor(async () => (await prom.alerts()).some((a) => a.labels.alertname === 'ServiceDown' && a.labels.job === 'notify' && a.state === 'firing'), {
        what: 'ServiceDown firing for notify',
        timeoutMs: 15_000,
        intervalMs: 250,
      });

      processes.notify = await pipeline.spawn('notify', { HEALTH_PORT: String(notifyPort), CONSUMER_NAME: 'notify-prometheus' });
      // Orders still flow, so a later scrape may catch an entry in the moment before notify reads it; what
      // matters is that the alert stops firing.
      await waitFor(async () => lagAlert(await prom.alerts())?.state !== 'firing', {
        what: 'StreamLagGrowing to clear once notify is back',
        timeoutMs: 30_000,
        intervalMs: 250,
      });
    } finally {
      flow.stop();
    }
    expect(flow.placed()).toBeGreaterThan(0);
    expect(flow.failures).toEqual([]);
  });
});
