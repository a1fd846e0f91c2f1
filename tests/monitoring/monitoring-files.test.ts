import { describe, expect, it } from 'bun:test';
import { loadDashboards, loadRules, MONITORING, panelQueries } from '../helpers/monitoring.ts';
import { exposedMetricNames, metricNamesIn } from '../helpers/promql.ts';

// The alerts' runbooks and the dashboard's panels are explained on the operating page.
const operating = await Bun.file(new URL('../docs/operating.md', MONITORING)).text();
const rules = await loadRules();
const dashboards = await loadDashboards();
const datasources = Bun.YAML.parse(await Bun.file(new URL('grafana/provisioning/datasources/datasources.yaml', MONITORING)).text()) as {
  datasources: { uid: string; type: string }[];
};

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchors = new Set([...operating.matchAll(/^#+ (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-')));
const dashboardsSection = operating.slice(operating.indexOf('## Dashboards and alerts'));

describe('metricNamesIn', () => {
  it('finds the metrics of an expression, not its functions, labels, keywords, numbers or Grafana variables', () => {
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/docs.*"}[$__rate_interval])))')).toEqual([
      'http_request_duration_seconds_bucket',
    ]);
    expect(metricNamesIn('max without (instance, job) (stream_group_lag) > 0 and max(deriv(stream_group_lag[5m])) > 1e3').toSorted()).toEqual(['stream_group_lag']);
    expect(metricNamesIn('up == 0 and on (job) (sum by (job) (up) > 0)')).toEqual(['up']);
    expect(metricNamesIn('a_total / ignoring(x) group_left b_total offset 5m unless bool c')).toEqual(['a_total', 'b_total', 'c']);
    expect(metricNamesIn('label_replace(vector(1), "job", "api", "", "")')).toEqual([]);
  });
});

describe('exposedMetricNames', () => {
  it('takes sample names, and the families a # TYPE line declares, histogram series included', () => {
    const text = [
      '# HELP x_total things',
      '# TYPE x_total counter',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.1",service="api"} 1',
      'g{service="api"} 2',
      'plain 3',
    ].join('\n');
    expect([...exposedMetricNames(text)].toSorted()).toEqual(['g', 'lat_seconds', 'lat_seconds_bucket', 'lat_seconds_count', 'lat_seconds_sum', 'plain', 'x_total']);
  });
});

describe('the alert rules', () => {
  it('each has a severity, a summary and a runbook that is a heading of docs/operating.md', () => {
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      expect(['warning', 'critical']).toContain(rule.labels?.severity ?? `no severity on ${rule.alert}`);
      expect(rule.annotations?.summary?.length ?? 0).toBeGreaterThan(10);
      const anchor = rule.annotations?.runbook?.match(/^docs\/operating\.md#(.+)$/)?.[1];
      expect(anchor && anchors.has(anchor) ? anchor : `${rule.alert}: runbook ${rule.annotations?.runbook} is no heading of docs/operating.md`).toBe(anchor!);
    }
  });

  it('are each explained in docs/operating.md under their own name', () => {
    for (const name of new Set(rules.map((rule) => rule.alert))) expect(dashboardsSection).toContain(`\n### ${name}\n`);
  });
});

describe('the Grafana dashboards', () => {
  it('ask only data sources that are provisioned, by uid', () => {
    const uids = new Set(datasources.datasources.map((source) => source.uid));
    for (const dashboard of dashboards) {
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
        expect(uids.has(panel.datasource?.uid ?? '') ? 'provisioned' : `${panel.title}: ${panel.datasource?.uid}`).toBe('provisioned');
        for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe(panel.datasource!.uid);
      }
    }
  });

  it('have unique panel ids and queries on every panel', () => {
    for (const dashboard of dashboards) {
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
    }
    expect(panelQueries(dashboards).length).toBeGreaterThan(10);
  });

  it('are listed panel by panel in docs/operating.md', () => {
    for (const dashboard of dashboards) {
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(dashboardsSection).toContain(`**${panel.title}**`);
    }
  });
});
