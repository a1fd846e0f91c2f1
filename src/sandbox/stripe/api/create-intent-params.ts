import { amountTooSmall, parameterInvalid, parameterMissing } from '../errors.ts';
import type { FormParams } from '../form.ts';
import type { ConfirmOptions } from '../ledger/card-outcome.ts';
import type { CreateIntent } from '../ledger/payment-intents.ts';
import type { PaymentIntent } from '../payment-intent.ts';
import { onlyKnown, readBoolean, readEnum, readHash, readInteger, readMetadata, readString, readStringArray } from './params.ts';

const CREATE_PARAMS = [
  'amount',
  'currency',
  'payment_method',
  'confirm',
  'description',
  'metadata',
  'customer',
  'capture_method',
  'confirmation_method',
  'automatic_payment_methods',
  'payment_method_types',
  'payment_method_options',
  'receipt_email',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'off_session',
  'error_on_requires_action',
  'return_url',
  'expand',
] as const;

export const CONFIRM_PARAMS = ['payment_method', 'off_session', 'error_on_requires_action', 'return_url', 'payment_method_options', 'expand'] as const;

/** Stripe's minimum charge per currency, in its smallest unit (others: 1). */
const MINIMUM_AMOUNT: Record<string, number> = { usd: 50, eur: 50, cad: 50, aud: 50, chf: 50, jpy: 50, gbp: 30, sek: 300, nok: 300, dkk: 250 };
const MAXIMUM_AMOUNT = 99_999_999;

/** The checks Stripe makes on `POST /v1/payment_intents` before it begins; the command to run. */
export function readCreateIntent(params: FormParams): CreateIntent {
  onlyKnown(params, CREATE_PARAMS);
  refuseExpand(params);
  const amount = readInteger(params, 'amount');
  if (amount === null) throw parameterMissing('amount');
  const currencyGiven = readString(params, 'currency');
  if (currencyGiven === null) throw parameterMissing('currency');
  if (!/^[a-zA-Z]{3}$/.test(currencyGiven)) throw parameterInvalid('currency', `Invalid currency: ${currencyGiven}.`);
  const currency = currencyGiven.toLowerCase();
  const minimum = MINIMUM_AMOUNT[currency] ?? 1;
  if (amount < minimum) throw amountTooSmall(minimum, currency);
  if (amount > MAXIMUM_AMOUNT) throw parameterInvalid('amount', `Amount must be no more than ${MAXIMUM_AMOUNT} ${currency}`, 'amount_too_large');

  const captureMethod = readEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual']) ?? 'automatic_async';
  if (captureMethod === 'manual') throw parameterInvalid('capture_method', 'The Stripe sandbox captures automatically only: capture_method must be automatic or automatic_async.');
  if ((readEnum(params, 'confirmation_method', ['automatic', 'manual']) ?? 'automatic') === 'manual') {
    throw parameterInvalid('confirmation_method', 'The Stripe sandbox supports confirmation_method=automatic only.');
  }
  const types = readStringArray(params, 'payment_method_types');
  const automatic = readAutomaticPaymentMethods(params);
  if (types && automatic) throw parameterInvalid('automatic_payment_methods', 'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.');
  if (types && !types.includes('card')) throw parameterInvalid('payment_method_types', 'The Stripe sandbox supports card payments only: payment_method_types must include card.');
  readHash(params, 'payment_method_options');
  readString(params, 'return_url');

  const confirm = readBoolean(params, 'confirm') ?? false;
  const paymentMethod = readString(params, 'payment_method', 255);
  if (confirm && !paymentMethod) throw parameterMissing('payment_method');
  const confirmOptions = readConfirmOptions(params);
  if (!confirm && (params.off_session !== undefined || params.error_on_requires_action !== undefined)) {
    throw parameterInvalid(params.off_session !== undefined ? 'off_session' : 'error_on_requires_action', 'This parameter can only be used with confirm=true.');
  }
  return {
    amount,
    currency,
    paymentMethod,
    confirm,
    description: readString(params, 'description', 1000),
    metadata: readMetadata(params),
    customer: readString(params, 'customer', 255),
    captureMethod,
    // Since API version 2023-08-16 an intent without payment_method_types gets automatic payment methods.
    automaticPaymentMethods: types ? null : (automatic ?? { enabled: true }),
    paymentMethodTypes: types ?? ['card'],
    receiptEmail: readString(params, 'receipt_email', 800),
    statementDescriptor: readString(params, 'statement_descriptor', 22),
    statementDescriptorSuffix: readString(params, 'statement_descriptor_suffix', 22),
    confirmOptions,
  };
}

/** `off_session` (true/false, or one_off/recurring) and `error_on_requires_action`, as confirm takes them. */
export function readConfirmOptions(params: FormParams): ConfirmOptions {
  const offSession = params.off_session === 'one_off' || params.off_session === 'recurring' ? true : (readBoolean(params, 'off_session') ?? false);
  return { offSession, errorOnRequiresAction: readBoolean(params, 'error_on_requires_action') ?? false };
}

/** Objects are never expanded here: asking for it fails loudly rather than answering ids where objects were expected. */
export function refuseExpand(params: FormParams): void {
  const expand = readStringArray(params, 'expand');
  if (expand && expand.length > 0) throw parameterInvalid('expand', 'The Stripe sandbox does not expand objects: leave expand out.');
}

function readAutomaticPaymentMethods(params: FormParams): PaymentIntent['automatic_payment_methods'] {
  const hash = readHash(params, 'automatic_payment_methods');
  if (!hash) return null;
  onlyKnown(hash, ['enabled', 'allow_redirects'], 'automatic_payment_methods');
  const enabled = readBoolean(hash, 'enabled');
  if (enabled === null) throw parameterMissing('automatic_payment_methods[enabled]');
  const allowRedirects = readEnum(hash, 'allow_redirects', ['always', 'never']);
  return { enabled, ...(allowRedirects ? { allow_redirects: allowRedirects } : {}) };
}
