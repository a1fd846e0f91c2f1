import { describe, expect, it } from 'bun:test';
import { spawnService } from '../../scripts/lib/spawn-service.ts';
import { HEAP_BUDGET_BYTES, HEAP_BUDGET_VARIABLE, withHeapBudget } from '../../src/shared/runtime/heap-budget.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('the heap budget every service starts with', () => {
  it("is in each service's package.json script, where a value in the environment wins", async () => {
    const { scripts } = (await Bun.file(`${ROOT}/package.json`).json()) as { scripts: Record<string, string> };
    for (const name of ['api', 'payment', 'notify']) {
      expect(scripts[name]).toBe(`${HEAP_BUDGET_VARIABLE}=\${${HEAP_BUDGET_VARIABLE}:-${HEAP_BUDGET_BYTES}} bun src/${name}/main.ts`);
    }
  });

  it('reaches the processes the tests, chaos and the bench spawn, unless they are given their own', async () => {
    const read = async (env: Record<string, string>) => {
      const service = spawnService('api', env, ['/bin/sh', '-c', `echo "budget $${HEAP_BUDGET_VARIABLE}"`]);
      await service.proc.exited;
      await service.drained;
      return service.lines.map((line) => String(line.msg));
    };
    expect(await read({})).toEqual([`budget ${HEAP_BUDGET_BYTES}`]);
    expect(await read({ [HEAP_BUDGET_VARIABLE]: '1073741824' })).toEqual(['budget 1073741824']);
    expect(withHeapBudget<Record<string, string>>({ A: 'b' })).toEqual({ A: 'b', [HEAP_BUDGET_VARIABLE]: String(HEAP_BUDGET_BYTES) });
  });
});
