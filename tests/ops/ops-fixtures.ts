import { reportBreakerState } from '../../src/shared/ops/breakers.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import type { Redis } from '../../src/shared/runtime/redis.ts';
import { deadLetter } from '../../src/shared/streams/dead-letter.ts';

/** What a deployment leaks if the operations page shows it to anyone: a host name (with pid) and a customer's address. */
export const SECRET_CONSUMER = 'db-host-17.internal-4242';
export const SECRET_EMAIL = 'ada.lovelace@example.com';

/**
 * A deployment's Redis as the operations page reads it, written directly: a consumer named after its
 * host in the payment group, a dead letter of an order carrying the customer's address (also in its
 * reason), and that worker's breaker state.
 */
export async function seedOpsState(redis: Redis, prefix: string) {
  const { stream, group, deadLetterStream } = TOPOLOGY.OrderPlaced;
  const key = streamKey(prefix, stream);
  await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
  await redis.xgroup('CREATECONSUMER', key, group, SECRET_CONSUMER);
  const orderId = Bun.randomUUIDv7();
  const event = Events.orderPlaced.create(
    { orderId },
    'client-request-7',
  );
  // An entry written before events were thin (or by anything else) may carry an e-mail: the page must mask it.
  const fields: Record<string, string> = { ...Events.orderPlaced.toFields(event), customerEmail: SECRET_EMAIL };
  const letterId = await deadLetter(
    { redis, deadLetterStream: streamKey(prefix, deadLetterStream), maxLen: 1000 },
    { originalStream: key, originalId: '1-0', group, consumer: SECRET_CONSUMER, error: `mail to ${SECRET_EMAIL} bounced`, deliveries: 5, fields },
  );
  await reportBreakerState(redis, prefix, SECRET_CONSUMER, 'open');
  return { orderId, eventId: event.eventId, letterId, fields };
}
