import type { Socket, TCPSocketListener } from 'bun';

interface Pair {
  client: Socket<Pair>;
  upstream?: Socket<Pair>;
  /** Bytes from the client before the upstream connection opened. */
  early: Uint8Array[];
  /** The server's next reply is dropped and both sides closed (see cutAfterRequest). */
  cutOnReply: boolean;
  /** Bytes from the client held back on this connection (see holdRequests), delivered on release. */
  held?: Uint8Array[];
}

/**
 * A TCP proxy in front of a real server, for tests of a network path that goes silent: while
 * `blackhole` is on, every byte in either direction is dropped and the connections stay open, as
 * when a firewall or a dead route drops packets. Nothing is buffered, so what was sent meanwhile is
 * lost for good, as it would be.
 *
 * `cutAfterRequest(match)` arms a one-shot fault: the next client message that matches is delivered to
 * the server, and the connection is cut as the server's answer comes back, so the client never learns
 * the outcome. `cutReply(match)` does the same from the server's side: the first reply that matches
 * (a COMMIT's CommandComplete, say) is dropped and the connection cut.
 *
 * `holdRequests(match)` makes a path that stalls and then recovers: from the first client message that
 * matches, everything that client sends is held back, and `releaseHeld()` delivers it all, late, to a
 * server that never knew. `cutAll()` ends every connection at once, as a network blip does, and `setRefusing(true)` turns new ones away
 * until it is turned off.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let blackhole = false;
  let cutWhen: ((text: string) => boolean) | undefined;
  let cutOnReply: ((text: string) => boolean) | undefined;
  let onReplyCut: (() => void) | undefined;
  let holdWhen: ((text: string) => boolean) | undefined;
  let refusing = false;
  const pairs = new Set<Pair>();
  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
        if (refusing) {
          client.end();
          return;
        }
        const pair: Pair = { client, early: [], cutOnReply: false };
        client.data = pair;
        pairs.add(pair);
        try {
          pair.upstream = await Bun.connect<Pair>({
            hostname: target.host,
            port: target.port,
            data: pair,
            socket: {
              data(upstream, chunk) {
                if (cutOnReply?.(Buffer.from(chunk).toString('latin1'))) {
                  cutOnReply = undefined;
                  pair.cutOnReply = true;
                  onReplyCut?.();
                }
                if (pair.cutOnReply) {
                  pair.client.end();
                  upstream.end();
                  return;
                }
                if (!blackhole) pair.client.write(chunk);
              },
              close() {
                pair.client.end();
                pairs.delete(pair);
              },
              error() {
                pair.client.end();
              },
            },
          });
          for (const chunk of pair.early) pair.upstream.write(chunk);
          pair.early = [];
        } catch {
          client.end();
        }
      },
      data(client, chunk) {
        if (blackhole || !client.data) return;
        if (cutWhen?.(Buffer.from(chunk).toString('latin1'))) {
          cutWhen = undefined;
          client.data.cutOnReply = true;
        }
        if (!client.data.held && holdWhen?.(Buffer.from(chunk).toString('latin1'))) {
          holdWhen = undefined;
          client.data.held = [];
        }
        if (client.data.held) {
          client.data.held.push(new Uint8Array(chunk));
          return;
        }
        const { upstream } = client.data;
        if (upstream) upstream.write(chunk);
        else client.data.early.push(new Uint8Array(chunk));
      },
      close(client) {
        // A refused connection never got a pair.
        if (!client.data) return;
        client.data.upstream?.end();
        pairs.delete(client.data);
      },
      error(client) {
        client.data?.upstream?.end();
      },
    },
  });
  return {
    port: listener.port,
    url: (path = '/0', scheme = 'redis') => `${scheme}://127.0.0.1:${listener.port}${path}`,
    setBlackhole(on: boolean) {
      blackhole = on;
    },
    cutAfterRequest(match: (text: string) => boolean) {
      cutWhen = match;
    },
    /** Arms a one-shot cut on the server's side: the first reply that matches is dropped and the connection closed; `then` runs at that moment. */
    cutReply(match: (text: string) => boolean, then?: () => void) {
      cutOnReply = match;
      onReplyCut = then;
    },
    /** Arms a one-shot hold: from the first client message that matches, that connection's requests are held back. */
    holdRequests(match: (text: string) => boolean) {
      holdWhen = match;
    },
    /** Connections whose requests are held back now. */
    holding: () => [...pairs].filter((pair) => pair.held).length,
    /** Delivers everything held back, in order, and lets those connections flow again. */
    releaseHeld() {
      for (const pair of pairs) {
        if (!pair.held) continue;
        for (const chunk of pair.held) pair.upstream?.write(chunk);
        pair.held = undefined;
      }
    },
    /** While on, a new connection is closed as soon as it opens: the server is unreachable, and says so at once. */
    setRefusing(on: boolean) {
      refusing = on;
    },
    /** Ends every connection through the proxy now; new ones are accepted as before. */
    cutAll() {
      for (const pair of pairs) {
        pair.client.end();
        pair.upstream?.end();
      }
    },
    /** Whether an armed cut has happened. */
    cutDone: () => cutWhen === undefined && cutOnReply === undefined,
    /** Connections open through the proxy now. */
    connections: () => pairs.size,
    stop() {
      for (const pair of pairs) {
        pair.client.end();
        pair.upstream?.end();
      }
      listener.stop(true);
    },
  };
}
