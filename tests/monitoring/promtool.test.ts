import { describe, expect, it } from 'bun:test';
import { MONITORING, ruleFileNames } from '../helpers/monitoring.ts';
import { havePromtool, PROMTOOL } from '../helpers/prometheus.ts';

// .ci/run installs Debian's prometheus (which brings promtool) and runs the same checks before the tests.
if (!havePromtool) console.warn(`skipping the promtool checks: no promtool at ${PROMTOOL} (apt-get install prometheus, or set PROMTOOL_PATH)`);

async function promtool(...args: string[]) {
  const proc = Bun.spawn([PROMTOOL, ...args], { cwd: MONITORING.pathname, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: `${out}${err}` };
}

describe.skipIf(!havePromtool)('promtool', () => {
  it('accepts prometheus.yml and the rule files it loads', async () => {
    const config = await promtool('check', 'config', 'prometheus.yml');
    expect(config.output).toContain('SUCCESS');
    expect(config.code).toBe(0);
    const rules = await promtool('check', 'rules', ...ruleFileNames());
    expect(rules.code, rules.output).toBe(0);
  });

  it("passes the rules' unit tests: each alert fires on the series it is for, and not on the others", async () => {
    const result = await promtool('test', 'rules', 'rules/order-service.test.yml');
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });
});
