import { parameterInvalid, parameterMissing } from '../errors.ts';
import { parseSearchQuery, SearchQueryError } from '../ledger/search-query.ts';
import type { PaymentIntents } from '../ledger/payment-intents.ts';
import type { CancellationReason, PaymentIntent } from '../payment-intent.ts';
import { intentSearchFilter } from '../store/intent-search.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { Filter } from '../store/select-page.ts';
import { CONFIRM_PARAMS, readConfirmOptions, readCreateIntent, refuseExpand } from './create-intent-params.ts';
import type { Endpoint } from './endpoint.ts';
import { listObject, readCreatedFilter, readListPage, readSearchPage, searchResultObject } from './list-params.ts';
import { onlyKnown, readEnum, readString } from './params.ts';

export interface PaymentIntentRoutesDeps {
  intents: PaymentIntents;
  store: LedgerStore;
  /** How long after creation an intent shows in search (read per request: the faults can change it). */
  searchLagMs: () => number;
  now: () => number;
}

const CANCELLATION_REASONS: readonly CancellationReason[] = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'];
const asIntent = (body: string) => JSON.parse(body) as PaymentIntent;

/** The PaymentIntents endpoints the sandbox speaks: create, retrieve, list, search, confirm, cancel. */
export function paymentIntentRoutes({ intents, store, searchLagMs, now }: PaymentIntentRoutesDeps): Endpoint[] {
  return [
    {
      name: 'create',
      method: 'POST',
      path: '/v1/payment_intents',
      prepare(params) {
        const command = readCreateIntent(params);
        if (command.paymentMethod) intents.checkPaymentMethod(command.paymentMethod, 'payment_method');
        return ({ request, processing }) => intents.create(command, request, processing);
      },
    },
    {
      name: 'search',
      method: 'GET',
      path: '/v1/payment_intents/search',
      prepare(params) {
        onlyKnown(params, ['query', 'limit', 'page', 'expand']);
        refuseExpand(params);
        const text = readString(params, 'query');
        if (text === null) throw parameterMissing('query');
        let search: Filter;
        try {
          search = intentSearchFilter(parseSearchQuery(text));
        } catch (error) {
          if (error instanceof SearchQueryError) throw parameterInvalid('query', error.message);
          throw error;
        }
        const page = readSearchPage(params);
        return () => {
          const visible: Filter = { sql: 'created_ms <= $visible_before', params: { visible_before: now() - searchLagMs() } };
          return searchResultObject('/v1/payment_intents/search', store.intents.page([search, visible], page), asIntent);
        };
      },
    },
    {
      name: 'list',
      method: 'GET',
      path: '/v1/payment_intents',
      prepare(params) {
        onlyKnown(params, ['limit', 'starting_after', 'ending_before', 'customer', 'created', 'expand']);
        refuseExpand(params);
        const page = readListPage(params, 'payment_intent', store.intents.seqOf);
        const filters: Filter[] = [];
        const customer = readString(params, 'customer');
        if (customer) filters.push({ sql: 'customer = $customer', params: { customer } });
        const created = readCreatedFilter(params);
        if (created) filters.push(created);
        return () => listObject('/v1/payment_intents', store.intents.page(filters, page), asIntent);
      },
    },
    {
      name: 'retrieve',
      method: 'GET',
      path: '/v1/payment_intents/:id',
      prepare(params, { id }) {
        onlyKnown(params, ['client_secret', 'expand']);
        refuseExpand(params);
        intents.get(id!);
        return () => intents.get(id!);
      },
    },
    {
      name: 'confirm',
      method: 'POST',
      path: '/v1/payment_intents/:id/confirm',
      prepare(params, { id }) {
        onlyKnown(params, CONFIRM_PARAMS);
        refuseExpand(params);
        intents.get(id!);
        const paymentMethod = readString(params, 'payment_method', 255);
        if (paymentMethod) intents.checkPaymentMethod(paymentMethod, 'payment_method');
        const confirmOptions = readConfirmOptions(params);
        return ({ request, processing }) => intents.confirm(id!, { paymentMethod, confirmOptions }, request, processing);
      },
    },
    {
      name: 'cancel',
      method: 'POST',
      path: '/v1/payment_intents/:id/cancel',
      prepare(params, { id }) {
        onlyKnown(params, ['cancellation_reason', 'expand']);
        refuseExpand(params);
        intents.get(id!);
        const reason = readEnum(params, 'cancellation_reason', CANCELLATION_REASONS);
        return ({ request }) => intents.cancel(id!, reason, request);
      },
    },
  ];
}
