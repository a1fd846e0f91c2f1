import { describe, expect, it } from 'bun:test';
import { Glob } from 'bun';
import { join } from 'node:path';
import { ValidationFailed, OrderNotFound } from '../../src/api/errors/domain.ts';
import { ERROR_STATUS, statusOf } from '../../src/api/errors/status.ts';
import { errorResponses } from '../../src/api/models/error.ts';

const SRC = join(import.meta.dir, '../../src');

/** Every `readonly code = '...'` an error class declares under src/api and src/shared. */
async function declaredCodes(): Promise<Map<string, string>> {
  const codes = new Map<string, string>();
  for (const pattern of ['api/**/*.ts', 'shared/**/*.ts']) {
    for await (const file of new Glob(pattern).scan(SRC)) {
      const text = await Bun.file(join(SRC, file)).text();
      for (const match of text.matchAll(/readonly code = '([a-z_]+)'/g)) codes.set(match[1]!, file);
    }
  }
  return codes;
}

describe('the error status table', () => {
  it('has a status for every error code a client can be answered with', async () => {
    const codes = await declaredCodes();
    // poison_message is a worker's reason for dead-lettering; no client ever sees it.
    codes.delete('poison_message');
    expect(codes.size).toBeGreaterThan(10);
    const missing = [...codes].filter(([code]) => !(code in ERROR_STATUS)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('answers a bad body 422 and a bad path, query or header 400', () => {
    expect(statusOf(new ValidationFailed('bad', [], 'body'))).toBe(422);
    expect(statusOf(new ValidationFailed('bad', [], 'params'))).toBe(400);
    expect(statusOf(new ValidationFailed('bad', [], 'headers'))).toBe(400);
  });

  it('documents each error under its status, with the class own code and message as the example', () => {
    const responses = errorResponses(new OrderNotFound('0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11'));
    expect(Object.keys(responses)).toEqual(['404']);
    expect(responses[404]!.examples).toEqual([
      { error: { code: 'order_not_found', message: 'No order with id 0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11', requestId: expect.any(String) } },
    ]);
  });
});
