import type { Sql } from 'postgres';

/** Orders whose charge failed for now: their entries wait for the retry schedule until at most `holdMs` from now. */
export async function markPaymentRetrying(sql: Sql, orderIds: readonly string[], holdMs: number): Promise<void> {
  await sql`update orders set payment_retry_until = now() + make_interval(secs => ${holdMs / 1000}) where id = any(${orderIds}::uuid[]) and status = 'processing'`;
}
