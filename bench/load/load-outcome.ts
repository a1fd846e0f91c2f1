import type { Percentiles } from './stats.ts';

/** What one load run saw from the client side, whichever driver produced it. */
export interface LoadOutcome {
  driver: 'wrk' | 'built-in';
  mode: string;
  /** Responses received, any status. */
  requests: number;
  /** 201 answers: orders the API accepted. */
  created: number;
  seconds: number;
  /** POST latency as the client saw it. */
  latencyMs: Omit<Percentiles, 'count'>;
  /** Failures by kind: an HTTP status, or wrk's connect/read/write/timeout. */
  errors: Record<string, number>;
  /** CPU the load generator itself used, as a share of one core over the run. */
  driverCpu: number;
}

/** The order every bench request places: read from the wrk script, so both drivers send the same body. */
export const ORDER_SCRIPT = new URL('../wrk-order.lua', import.meta.url).pathname;
export async function orderBody(): Promise<string> {
  const body = (await Bun.file(ORDER_SCRIPT).text()).match(/^wrk\.body = '(.*)'$/m)?.[1];
  if (!body) throw new Error(`no wrk.body = '...' line in ${ORDER_SCRIPT}`);
  return body;
}
