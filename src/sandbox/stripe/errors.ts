import type { PaymentError, PaymentIntent } from './payment-intent.ts';

/** The `error` member of every Stripe error response. */
export interface StripeErrorBody {
  type: 'invalid_request_error' | 'card_error' | 'idempotency_error' | 'api_error';
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: PaymentIntent;
  payment_method?: PaymentError['payment_method'];
}

/** A Stripe error answer: its HTTP status, its `error` body, and any headers it carries. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

/** Stripe links every coded error to its page. */
export const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;

const invalid = (status: number, message: string, extra: Partial<StripeErrorBody> = {}) =>
  new StripeApiError(status, { type: 'invalid_request_error', message, ...extra, ...(extra.code ? { doc_url: docUrl(extra.code) } : {}) });

// Every error the sandbox answers, with Stripe's status, type, code and wording.

export const missingApiKey = () =>
  invalid(401, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");

export const invalidApiKey = (key: string) =>
  invalid(401, `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`);

export const liveKeyRefused = () => invalid(401, 'The Stripe sandbox is test mode only: use a secret key starting with sk_test_.');

export const unrecognizedUrl = (method: string, path: string) =>
  invalid(404, `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);

export const resourceMissing = (what: string, id: string, param?: string) =>
  invalid(param ? 400 : 404, `No such ${what}: '${id}'`, { code: 'resource_missing', ...(param ? { param } : {}) });

export const parameterUnknown = (param: string) =>
  invalid(400, `Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });

export const parameterMissing = (param: string) =>
  invalid(400, `Missing required param: ${param}.`, { code: 'parameter_missing', param });

export const parameterInvalid = (param: string, message: string, code = 'parameter_invalid_string') => invalid(400, message, { code, param });

export const malformedBody = (message: string) => invalid(400, message);

export const amountTooSmall = (minimum: number, currency: string) =>
  invalid(400, `Amount must be at least ${minimum} ${currency} (in the currency's smallest unit)`, { code: 'amount_too_small', param: 'amount' });

export const unexpectedState = (intent: PaymentIntent, message: string) =>
  invalid(400, message, { code: 'payment_intent_unexpected_state', payment_intent: intent });

export const cardError = (intent: PaymentIntent, error: PaymentError) => {
  const { type, code, decline_code, message, doc_url, charge, payment_method } = error;
  return new StripeApiError(402, { type, code, ...(decline_code ? { decline_code } : {}), message, doc_url, ...(charge ? { charge } : {}), payment_intent: intent, payment_method });
};

const idempotency = (status: number, message: string, code?: string) =>
  new StripeApiError(status, { type: 'idempotency_error', message, ...(code ? { code, doc_url: docUrl(code) } : {}) });

export const idempotencyKeyReused = (key: string) =>
  idempotency(400, `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);

export const idempotencyEndpointMismatch = (key: string, first: string, now: string) =>
  idempotency(400, `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). Try using a key other than '${key}' if you meant to execute a different request.`);

export const idempotencyKeyInUse = (key: string) =>
  idempotency(409, `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`, 'idempotency_key_in_use');

export const idempotencyKeyTooLong = () => invalid(400, 'Idempotency-Key must be at most 255 characters long.');

export const rateLimited = (retryAfterSeconds?: number) =>
  new StripeApiError(
    429,
    { type: 'invalid_request_error', code: 'rate_limit', doc_url: docUrl('rate_limit'), message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.' },
    retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
  );

export const serverError = (detail: string) =>
  new StripeApiError(500, { type: 'api_error', message: `An unknown error occurred (stripe-sandbox: ${detail}).` });
