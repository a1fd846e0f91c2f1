import type { EndpointName } from '../faults/fault-config.ts';
import type { FormParams } from '../form.ts';
import type { RequestRef } from '../ledger/event-log.ts';
import type { ProcessingFault } from '../ledger/payment-intents.ts';

/** What the endpoint's work may ask of the request it serves. */
export interface ExecContext {
  request: RequestRef;
  processing: ProcessingFault;
}

/**
 * One Stripe endpoint, in two steps as Stripe's idempotency needs them: `prepare` checks the request
 * (a StripeApiError thrown here is a validation failure and saves nothing under the idempotency key);
 * the work it returns is the endpoint executing (whatever it answers, an error included, is saved).
 */
export interface Endpoint {
  name: EndpointName;
  method: 'GET' | 'POST';
  /** `/v1/payment_intents/:id/confirm` */
  path: string;
  prepare(params: FormParams, path: Record<string, string>): (context: ExecContext) => unknown;
}
