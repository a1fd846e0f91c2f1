import { readdirSync } from 'node:fs';

/** The monitoring/ folder: Prometheus config and rules, Grafana provisioning and dashboards. */
export const MONITORING = new URL('../../monitoring/', import.meta.url);

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RulesFile {
  groups: { name: string; rules: AlertRule[] }[];
}

export interface ScrapeConfig {
  job_name: string;
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
  static_configs?: { targets: string[] }[];
}
export interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
}

async function yaml<T>(path: string): Promise<T> {
  return Bun.YAML.parse(await Bun.file(new URL(path, MONITORING)).text()) as T;
}

export const loadPrometheusConfig = () => yaml<PrometheusConfig>('prometheus.yml');

/** The rule files prometheus.yml loads (`rules/*.rules.yml`), not their unit tests beside them. */
export function ruleFileNames(): string[] {
  return readdirSync(new URL('rules/', MONITORING)).filter((name) => name.endsWith('.rules.yml')).map((name) => `rules/${name}`);
}

export async function loadRules(): Promise<AlertRule[]> {
  const files = await Promise.all(ruleFileNames().map((name) => yaml<RulesFile>(name)));
  return files.flatMap((file) => file.groups.flatMap((group) => group.rules));
}

export async function loadDashboards(): Promise<Dashboard[]> {
  const folder = new URL('grafana/dashboards/', MONITORING);
  const names = readdirSync(folder).filter((name) => name.endsWith('.json'));
  return Promise.all(names.map((name) => Bun.file(new URL(name, folder)).json() as Promise<Dashboard>));
}

/** Every query of every panel, with where it comes from. */
export function panelQueries(dashboards: Dashboard[]): { where: string; expr: string }[] {
  return dashboards.flatMap((dashboard) =>
    dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `${dashboard.title} / ${panel.title}`, expr: target.expr }))),
  );
}

/** Series Prometheus writes itself for every target: not the processes' business to expose. */
export const PROMETHEUS_OWN_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS', 'ALERTS_FOR_STATE']);
