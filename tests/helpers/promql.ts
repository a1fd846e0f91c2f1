/**
 * The metric names a PromQL expression reads, found by tokens rather than a full parser: strings, label
 * matchers `{...}`, ranges `[...]` and label lists (`by (...)`, `on (...)`, ...) are cut out first, then
 * every identifier left that is not a function call, a keyword or a Grafana variable is a metric name.
 * Enough for our rules and panels; tests/monitoring/monitoring-files.test.ts shows what it skips.
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b(?:group_left|group_right)\b/g, ' ');
  const names = new Set<string>();
  // Numbers and durations (1e3, 0.95, 5m) and Grafana's $variables are tokens too, so "e3" or "m" never look like names.
  for (const match of stripped.matchAll(/\$\w+|[0-9][\w.]*|[a-zA-Z_:][\w:]*/g)) {
    const token = match[0];
    if (token.startsWith('$') || /^[0-9]/.test(token) || KEYWORDS.has(token.toLowerCase())) continue;
    const rest = stripped.slice(match.index + token.length);
    if (/^\s*\(/.test(rest)) continue;
    names.add(token);
  }
  return [...names];
}

/**
 * The metric names a Prometheus text exposition offers: every sample's name, and every family its
 * `# TYPE` line declares (with `_bucket`, `_sum`, `_count` for a histogram), since a labelled counter
 * shows no sample until it is first incremented but is there to be queried all the same.
 */
export function exposedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = line.match(/^# TYPE (\S+) (\w+)/);
    if (type) {
      const [, name, kind] = type;
      names.add(name!);
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
      continue;
    }
    const sample = line.match(/^([a-zA-Z_:][\w:]*)[\s{]/);
    if (sample) names.add(sample[1]!);
  }
  return names;
}
