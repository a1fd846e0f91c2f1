import { resourceMissing } from '../errors.ts';
import type { EventLog } from '../ledger/event-log.ts';
import type { StripeEvent } from '../ledger/stripe-event.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { Filter } from '../store/select-page.ts';
import { refuseExpand } from './create-intent-params.ts';
import type { Endpoint } from './endpoint.ts';
import { listObject, readCreatedFilter, readListPage } from './list-params.ts';
import { onlyKnown, readString, readStringArray } from './params.ts';

/** `GET /v1/events` and `GET /v1/events/:id`, with `pending_webhooks` as it stands when asked. */
export function eventRoutes({ store, events }: { store: LedgerStore; events: EventLog }): Endpoint[] {
  const read = (body: string) => events.current(JSON.parse(body) as StripeEvent);
  return [
    {
      name: 'events',
      method: 'GET',
      path: '/v1/events',
      prepare(params) {
        onlyKnown(params, ['limit', 'starting_after', 'ending_before', 'type', 'types', 'created', 'expand']);
        refuseExpand(params);
        const page = readListPage(params, 'event', store.events.seqOf);
        const filters: Filter[] = [];
        const type = readString(params, 'type');
        // Stripe allows one wildcard: `payment_intent.*`.
        if (type) filters.push({ sql: 'type LIKE $type', params: { type: type.replace(/\*/g, '%') } });
        const types = readStringArray(params, 'types');
        if (types) filters.push({ sql: `type IN (${types.map((_, i) => `$types_${i}`).join(', ')})`, params: Object.fromEntries(types.map((t, i) => [`types_${i}`, t])) });
        const created = readCreatedFilter(params);
        if (created) filters.push(created);
        return () => listObject('/v1/events', store.events.page(filters, page), read);
      },
    },
    {
      name: 'events',
      method: 'GET',
      path: '/v1/events/:id',
      prepare(params, { id }) {
        onlyKnown(params, ['expand']);
        refuseExpand(params);
        if (!store.events.get(id!)) throw resourceMissing('event', id!);
        return () => events.current(store.events.get(id!)!);
      },
    },
  ];
}
