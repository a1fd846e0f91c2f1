import type { Socket, TCPSocketListener } from 'bun';

interface Pair {
  client: Socket<Pair>;
  upstream?: Socket<Pair>;
  /** Bytes from the client before the upstream connection opened. */
  early: Uint8Array[];
  /** The server's next reply is dropped and both sides closed (see cutAfterRequest). */
  cutOnReply: boolean;
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
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let blackhole = false;
  let cutWhen: ((text: string) => boolean) | undefined;
  let cutOnReply: ((text: string) => boolean) | undefined;
  const pairs = new Set<Pair>();
  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
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
        if (blackhole) return;
        if (cutWhen?.(Buffer.from(chunk).toString('latin1'))) {
          cutWhen = undefined;
          client.data.cutOnReply = true;
        }
        const { upstream } = client.data;
        if (upstream) upstream.write(chunk);
        else client.data.early.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.upstream?.end();
        pairs.delete(client.data);
      },
      error(client) {
        client.data.upstream?.end();
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
    /** Arms a one-shot cut on the server's side: the first reply that matches is dropped and the connection closed. */
    cutReply(match: (text: string) => boolean) {
      cutOnReply = match;
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
