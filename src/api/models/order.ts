import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import { deliveryChannel, deliveryStatus, MAX_LINE_QUANTITY, orderStatus, paymentOutcome } from '../../shared/db/schema.ts';

export const MAX_QUANTITY = MAX_LINE_QUANTITY;
export const MAX_LINES = 50;

const EXAMPLE_ORDER_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';

// Integers are TypeBox's strict Integer: Elysia's t.Integer also accepts "2" as a string, and documents it so.
export const OrderLineInput = t.Object({
  menuItemId: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'An id from GET /menu' }),
  quantity: Type.Integer({ minimum: 1, maximum: MAX_QUANTITY }),
});

export const PlaceOrderBody = t.Object(
  {
    items: t.Array(OrderLineInput, {
      minItems: 1,
      maxItems: MAX_LINES,
      description: `Lines of the order. The same menuItemId twice is merged into one line; the merged quantity must stay within 1..${MAX_QUANTITY}.`,
    }),
    customerEmail: t.String({ format: 'email', maxLength: 254, description: 'Where the confirmation goes' }),
    paymentMethodId: t.Optional(
      t.String({
        pattern: '^pm_[A-Za-z0-9_]{1,250}$',
        description:
          'The card to charge: a Stripe PaymentMethod id (`pm_...`, from Stripe.js or a test card such as `pm_card_chargeDeclined`). With a test key, absent means `pm_card_visa`; with a live key it is required (422).',
        examples: ['pm_card_visa'],
      }),
    ),
  },
  {
    description: 'An order to place. Unknown fields are ignored.',
    examples: [{ items: [{ menuItemId: 1, quantity: 2 }, { menuItemId: 12, quantity: 1 }], customerEmail: 'ada@example.com' }],
  },
);
export type PlaceOrderBody = typeof PlaceOrderBody.static;
export type OrderLine = typeof OrderLineInput.static;

export const PlaceOrderHeaders = t.Object({
  'idempotency-key': t.Optional(
    t.String({
      description:
        '1 to 255 visible ASCII characters. Retrying with the same key and body returns the original response instead of placing a second order; kept at least 24 hours.',
    }),
  ),
});

export const OrderItemView = t.Object({
  menuItemId: Type.Integer(),
  name: t.String(),
  quantity: Type.Integer(),
  unitPriceCents: Type.Integer({ description: 'Menu price when the order was placed, in cents' }),
  lineTotalCents: Type.Integer(),
});

export const PaymentView = t.Object({
  outcome: t.UnionEnum(paymentOutcome.enumValues),
  attempts: Type.Integer({ description: 'Gateway calls it took, retries included' }),
  chargeId: t.Union([t.String(), t.Null()]),
  failureReason: t.Union([t.String(), t.Null()]),
  processedAt: t.String({ format: 'date-time' }),
});

export const DeliveryView = t.Object(
  {
    channel: t.UnionEnum(deliveryChannel.enumValues, { description: "`email`: the customer's receipt or explanation; `webhook`: the paid order to the restaurant" }),
    status: t.UnionEnum(deliveryStatus.enumValues, {
      description: '`pending` until the other side accepts it (`sent`), refuses it for good or every retry is spent (`failed`)',
    }),
    attempts: Type.Integer({ description: 'Attempts started so far, retries included' }),
    lastError: t.Union([t.String(), t.Null()], { description: "The last failed attempt's reason as the other side gave it (an SMTP reply, an HTTP status), or null" }),
    sentAt: t.Union([t.String({ format: 'date-time' }), t.Null()], { description: 'When the other side accepted it; null until then' }),
  },
  { description: 'How far telling someone about the order has got, on one channel' },
);

export const OrderView = t.Object(
  {
    id: t.String({ format: 'uuid', description: 'UUIDv7: sorts by creation time' }),
    status: t.UnionEnum(orderStatus.enumValues),
    customerEmail: t.String({
      description:
        'As sent in the 201 of POST /orders and its Idempotency-Key replays; GET /orders/{id} masks it (`a***@example.com`) unless the request carries the admin token',
    }),
    items: t.Array(OrderItemView),
    totalCents: Type.Integer({ description: 'Sum of the lines, computed by the server from menu prices' }),
    createdAt: t.String({ format: 'date-time' }),
    updatedAt: t.String({ format: 'date-time' }),
    payment: t.Union([PaymentView, t.Null()], { description: 'null until the payment worker records an outcome' }),
    notifiedAt: t.Union([t.String({ format: 'date-time' }), t.Null()], {
      description: "When the mail server accepted the customer's e-mail about the payment outcome; null until then",
    }),
    deliveries: t.Array(DeliveryView, {
      description: 'One per channel the outcome is told on (the e-mail; the webhook for a paid order when one is configured), listed once any channel has read the outcome (attempts 0 before its own first attempt); empty before',
    }),
  },
  {
    description: 'An order with its lines and payment outcome',
    examples: [
      {
        id: EXAMPLE_ORDER_ID,
        status: 'processing',
        customerEmail: 'ada@example.com',
        items: [
          { menuItemId: 1, name: 'Margherita Pizza', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
          { menuItemId: 12, name: 'Sparkling Lemonade', quantity: 1, unitPriceCents: 375, lineTotalCents: 375 },
        ],
        totalCents: 2875,
        createdAt: '2026-11-25T12:00:00.000Z',
        updatedAt: '2026-11-25T12:00:00.000Z',
        payment: null,
        notifiedAt: null,
        deliveries: [],
      },
    ],
  },
);
export type OrderView = typeof OrderView.static;

// A pattern, not `format: 'uuid'`: Elysia's uuid format also accepts `urn:uuid:...`, which PostgreSQL
// refuses (a 500). This is the canonical 8-4-4-4-12 form only, a subset of what PostgreSQL reads.
export const ORDER_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const OrderIdParams = t.Object({
  id: t.String({ pattern: ORDER_ID_PATTERN, description: `The order id returned by POST /orders, e.g. ${EXAMPLE_ORDER_ID}` }),
});
