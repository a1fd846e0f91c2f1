import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { loadDashboards, loadRules, panelQueries, PROMETHEUS_OWN_SERIES } from '../helpers/monitoring.ts';
import { exposedMetricNames, metricNamesIn } from '../helpers/promql.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

// What Prometheus and Kubernetes read from each process, read from the real processes.
let pipeline: Pipeline;
let services: RunningService[];

beforeAll(async () => {
  pipeline = await createPipeline('scrape_targets');
  services = await Promise.all([pipeline.spawn('api'), pipeline.spawn('payment'), pipeline.spawn('notify')]);
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
});

const url = (service: RunningService, path: string) => `http://127.0.0.1:${service.port}${path}`;

describe('the processes Prometheus scrapes', () => {
  it('expose every metric an alert rule or a dashboard panel names', async () => {
    // One order through the real processes, so the histograms and labelled counters have samples too.
    const res = await fetch(url(services[0]!, '/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'scrape@example.com' }),
    });
    expect(res.status).toBe(201);
    await pipeline.waitUntilSettled([((await res.json()) as { id: string }).id]);

    const exposed = new Map<string, string[]>();
    for (const service of services) {
      const scrape = await fetch(url(service, '/metrics'));
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toContain('text/plain');
      for (const name of exposedMetricNames(await scrape.text())) exposed.set(name, [...(exposed.get(name) ?? []), service.name]);
    }

    const named = [
      ...(await loadRules()).map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
      ...panelQueries(await loadDashboards()).map((query) => ({ where: `panel ${query.where}`, expr: query.expr })),
    ];
    const missing = named.flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((name) => !PROMETHEUS_OWN_SERIES.has(name) && !exposed.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
    // Not vacuous: the names came from real scrapes and the rules and panels name many of them.
    expect(new Set(named.flatMap(({ expr }) => metricNamesIn(expr))).size).toBeGreaterThan(12);
    expect(exposed.get('circuit_breaker_state')).toEqual(['payment']);
    expect(exposed.get('stream_group_lag')).toEqual(['api', 'payment', 'notify']);
  });

  it('count the running consumers of each group as active, and nothing as pending or unpublished once settled', async () => {
    const text = await (await fetch(url(services[0]!, '/metrics'))).text();
    const sample = (name: string, labels: string) => Number(text.match(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm'))?.[1]);
    expect(sample('stream_group_active_consumers', 'stream="orders.placed",group="payment-service"')).toBe(1);
    expect(sample('stream_group_active_consumers', 'stream="payment.completed",group="notify-email"')).toBe(1);
    expect(sample('stream_group_oldest_pending_seconds', 'stream="orders.placed",group="payment-service"')).toBe(0);
    expect(sample('outbox_oldest_unpublished_seconds', '')).toBe(0);
  });
});

describe('the probes Kubernetes calls', () => {
  it('answer 200 on /health/live and /health/ready of the api and each worker, /health as before', async () => {
    for (const service of services) {
      const live = await fetch(url(service, '/health/live'));
      expect([service.name, live.status, await live.json()]).toEqual([service.name, 200, { status: 'ok' }]);
      const ready = await fetch(url(service, '/health/ready'));
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      expect([service.name, ready.status, body.status]).toEqual([service.name, 200, 'ok']);
      expect(body.checks.postgres).toBe('ok');
      expect((await fetch(url(service, '/health'))).status).toBe(200);
    }
    // The API takes orders while Redis is away, so its readiness leaves Redis out; a worker cannot work without it.
    const apiReady = (await (await fetch(url(services[0]!, '/health/ready'))).json()) as { checks: Record<string, string> };
    expect(Object.keys(apiReady.checks)).toEqual(['postgres']);
    const paymentReady = (await (await fetch(url(services[1]!, '/health/ready'))).json()) as { checks: Record<string, string> };
    expect(Object.keys(paymentReady.checks).toSorted()).toEqual(['consumer', 'postgres', 'redis']);
  });
});
