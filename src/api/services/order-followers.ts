import { OrderNotFound, StreamsUnavailable, TooManyStreams } from '../errors/domain.ts';
import type { OrderView } from '../models/order.ts';
import type { Logger } from '../../shared/runtime/log.ts';
import { isOrderFinished, type TellingPolicy } from './order-finished.ts';
import { withMaskedEmail } from './order-view.ts';
import { createReadRounds } from './read-rounds.ts';

/** Where one follower's messages go; the route writes them as server-sent events. */
export interface FollowerSink {
  /** The whole order; `id` names this state (the same state, the same id), so a client can say what it has. */
  state(id: string, data: string): void;
  /** Nothing changed for a while: a line that keeps the connection from looking idle. */
  keepAlive(): void;
  /** Nothing more will come: the order is finished, the process is stopping, or the order is unreadable. */
  end(): void;
}

export interface FollowOptions {
  /** Whether the customer's address is masked, as GET /orders/{id} does without the admin token. */
  masked: boolean;
  /** The id of the state the client already has (its Last-Event-ID): that state is not sent again. */
  lastEventId?: string;
}

/** A stream being followed; `leave` when its client has gone. */
export interface Following {
  leave(): void;
}

export interface OrderFollowersOptions {
  /** Orders as GET /orders/{id} reads them, unmasked, by id; an id with no order is left out. */
  read: (orderIds: string[]) => Promise<Map<string, OrderView>>;
  /** Streams open at once in this process (SSE_MAX_CONNECTIONS). */
  maxConnections: number;
  /** How often every open stream gets a keep-alive line (SSE_KEEP_ALIVE_MS). */
  keepAliveMs: number;
  /** Which deliveries an order waits for before it is finished. */
  telling: TellingPolicy;
  log: Logger;
  /** Told the number of open streams whenever it changes (a gauge). */
  onCount?: (open: number) => void;
  /**
   * Told, once per change whatever the number of its streams, how long after its commit (PostgreSQL's
   * clock) a change went out to them, in seconds (a histogram). A change in a client's first state is
   * not told: that is a read, not a change on its way.
   */
  onChangeSent?: (delaySeconds: number) => void;
  /** Most orders one read takes. */
  maxPerRead?: number;
}

interface Follower {
  readonly orderId: string;
  readonly masked: boolean;
  readonly sink: FollowerSink;
  /** The id of the state the client has. */
  lastId: string | undefined;
  sent: number;
  open: boolean;
  /** Why it was ended, when it was. */
  ended?: 'finished' | 'stopping' | 'unreadable';
}

/** A state as it goes out: the JSON GET /orders/{id} would answer, and a short hash of it as its id. */
export function messageOf(view: OrderView, masked: boolean): { id: string; data: string } {
  const data = JSON.stringify(masked ? withMaskedEmail(view) : view);
  return { id: Bun.hash(data).toString(36), data };
}

/** When each change an order's state shows was committed: its payment outcome, each delivery sent (ms since the epoch). */
function changeTimes(view: OrderView): number[] {
  const times = view.deliveries.flatMap((delivery) => (delivery.sentAt ? [Date.parse(delivery.sentAt)] : []));
  return view.payment ? [Date.parse(view.payment.processedAt), ...times] : times;
}

/**
 * The open order event streams of this process, by order. Orders are read in rounds (read-rounds.ts):
 * every order due when a round starts (a change announced, a client arriving) is read in the same
 * statements, and its state sent to each of its clients that does not have it yet, however many there
 * are; each read of an order starts after the change it answers, so no client ever sees its order go
 * back. Changes come from the one reader of the process (`changed`); a reconnect of that reader
 * re-reads every followed order (`resync`). A client that leaves leaves nothing behind.
 */
export function createOrderFollowers({ read, maxConnections, keepAliveMs, telling, log, onCount, onChangeSent, maxPerRead = 500 }: OrderFollowersOptions) {
  const byOrder = new Map<string, Set<Follower>>();
  /** Per followed order, the newest change commit its streams were sent (-Infinity: none yet); gone with the order's last client. */
  const newestSent = new Map<string, number>();
  const reads = createReadRounds<string, OrderView>({
    read,
    maxPerRound: maxPerRead,
    // An order whose clients all left meanwhile is not worth reading.
    wanted: (orderId) => byOrder.has(orderId),
    onRead: publish,
    // PostgreSQL away past the retry budget: the clients reconnect, and read afresh.
    onFailed(orderIds, error) {
      log.error({ err: error, orders: orderIds.length }, 'cannot read followed orders; ending their streams so their clients reconnect');
      for (const orderId of orderIds) for (const follower of byOrder.get(orderId) ?? []) end(follower, 'unreadable');
    },
  });
  let open = 0;
  let stopping = false;

  const keepAlive = setInterval(() => {
    for (const followers of byOrder.values()) for (const follower of followers) follower.sink.keepAlive();
  }, keepAliveMs);
  // The timer serves the streams; it never keeps a process (a test) alive on its own.
  keepAlive.unref();

  function add(follower: Follower) {
    const followers = byOrder.get(follower.orderId) ?? new Set<Follower>();
    followers.add(follower);
    byOrder.set(follower.orderId, followers);
    open++;
    onCount?.(open);
  }

  function remove(follower: Follower) {
    if (!follower.open) return;
    follower.open = false;
    const followers = byOrder.get(follower.orderId);
    followers?.delete(follower);
    if (followers?.size === 0) {
      byOrder.delete(follower.orderId);
      newestSent.delete(follower.orderId);
    }
    open--;
    onCount?.(open);
  }

  function end(follower: Follower, why: NonNullable<Follower['ended']>) {
    if (!follower.open) return;
    follower.ended = why;
    remove(follower);
    follower.sink.end();
  }

  /** Sends the order's state to each follower that does not have it yet; ends every stream once it is finished. */
  function publish(orderId: string, view: OrderView | undefined) {
    const followers = byOrder.get(orderId);
    if (!followers) return;
    // Gone from the database (only a test deletes orders): nothing more will come.
    if (!view) {
      for (const follower of followers) end(follower, 'unreadable');
      return;
    }
    tellDelays(orderId, view);
    const finished = isOrderFinished(view, telling);
    // At most two encodings per state: masked, and in full for the admin token.
    const messages = new Map<boolean, { id: string; data: string }>();
    for (const follower of followers) {
      let message = messages.get(follower.masked);
      if (!message) messages.set(follower.masked, (message = messageOf(view, follower.masked)));
      if (message.id !== follower.lastId) {
        follower.lastId = message.id;
        follower.sent++;
        follower.sink.state(message.id, message.data);
      }
      if (finished) end(follower, 'finished');
    }
  }

  /** The changes this state brings to the order's streams, each told with its delay; the first state read for an order brings none. */
  function tellDelays(orderId: string, view: OrderView) {
    const times = changeTimes(view);
    const before = newestSent.get(orderId);
    newestSent.set(orderId, Math.max(before ?? -Infinity, ...times));
    if (before === undefined || !onChangeSent) return;
    const now = Date.now();
    // Clocks a little apart (PostgreSQL on another host) must not make a negative delay.
    for (const time of times) if (time > before) onChangeSent(Math.max(0, now - time) / 1000);
  }

  return {
    /**
     * Starts following an order for one client: its current state goes to `sink` unless the client has
     * it, then each change. Throws before anything is sent: OrderNotFound, TooManyStreams, or
     * StreamsUnavailable while stopping. Resolves undefined when the order is finished and the client
     * already has its last state: there is nothing to follow.
     */
    async follow(id: string, { masked, lastEventId }: FollowOptions, sink: FollowerSink): Promise<Following | undefined> {
      // As PostgreSQL writes a UUID, and as writers announce it: the same order whichever case the client used.
      const orderId = id.toLowerCase();
      if (stopping) throw new StreamsUnavailable('it is stopping');
      if (open >= maxConnections) throw new TooManyStreams(maxConnections);
      const follower: Follower = { orderId, masked, sink, lastId: lastEventId, sent: 0, open: true };
      // Registered before the first read, so a change committed while it runs is read again after it.
      add(follower);
      let view: OrderView | undefined;
      try {
        view = await reads.next(orderId);
      } catch (error) {
        remove(follower);
        throw error;
      }
      if (!view) {
        remove(follower);
        throw new OrderNotFound(id);
      }
      if (follower.ended === 'stopping') throw new StreamsUnavailable('it is stopping');
      if (follower.ended === 'finished' && follower.sent === 0) return undefined;
      return { leave: () => remove(follower) };
    },

    /** These orders changed (the process's reader says so): re-read those someone follows. */
    changed(orderIds: Iterable<string>): void {
      for (const orderId of orderIds) if (byOrder.has(orderId)) reads.schedule(orderId);
    },

    /** Changes may have gone unannounced (the reader lost Redis for a while): re-read every followed order. */
    resync(): void {
      for (const orderId of byOrder.keys()) reads.schedule(orderId);
    },

    /** Streams open now. */
    size: () => open,

    /** Ends every stream (their clients reconnect, to another replica) and takes no new one: the first step of shutting down. */
    close(): void {
      stopping = true;
      clearInterval(keepAlive);
      const all = [...byOrder.values()].flatMap((followers) => [...followers]);
      for (const follower of all) end(follower, 'stopping');
      if (all.length > 0) log.info({ streams: all.length }, 'closed the order event streams');
    },
  };
}

export type OrderFollowers = ReturnType<typeof createOrderFollowers>;
