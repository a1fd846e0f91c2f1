/**
 * Attribute names of the OpenTelemetry semantic conventions that are still "incubating" (messaging,
 * some database ones). The semantic-conventions package asks users to copy these rather than import
 * `@opentelemetry/semantic-conventions/incubating`, whose exports may change in any minor release.
 * Stable names (service, HTTP, URL, db.system.name, ...) are imported from the package itself.
 */
export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_SYSTEM_NAME = 'messaging.system.name';
export const MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const MESSAGING_CLIENT_ID = 'messaging.client.id';
export const MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';

/** `redis` is not one of the well-known `messaging.system` values; the conventions allow a custom one. */
export const MESSAGING_SYSTEM_REDIS = 'redis';

/** `db.system.name` of Redis: a well-known value, but only in the incubating entry point (DB_SYSTEM_NAME_VALUE_REDIS). */
export const DB_SYSTEM_NAME_REDIS = 'redis';

/**
 * Our own attributes, under the `app.` namespace (as the OpenTelemetry demo does) so they never
 * clash with a future convention: search a backend by `app.order.id` to find an order's traces.
 */
export const APP_ORDER_ID = 'app.order.id';
export const APP_EVENT_ID = 'app.event.id';
/** How often Redis delivered the entry (1: first delivery). */
export const APP_DELIVERIES = 'app.messaging.deliveries';
/** On a link: why the span links rather than descends (`redelivery`, `origin`, `batch`). */
export const APP_LINK_REASON = 'app.link.reason';
/** On a publish span: the event is a copy emitted again by the reconciler. */
export const APP_REEMITTED = 'app.reemitted';
