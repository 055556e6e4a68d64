import type { AddressInfo } from 'node:net';
import { connect, createServer, type Socket } from 'node:net';

export interface StallProxy {
  url: string;
  /**
   * Goes silent on the connections open now whose latest request starts with `requestLine`: bytes
   * stop flowing both ways and nothing is closed, as in a network partition or a stuck proxy.
   * Connections opened later pass as before.
   */
  stall(requestLine: string): number;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of `target` (host:port) that can go silent on chosen connections. */
export async function startStallProxy(targetUrl: string): Promise<StallProxy> {
  const target = new URL(targetUrl);
  const open = new Map<Socket, { upstream: Socket; first: string }>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const conn = { upstream, first: '' };
    open.set(client, conn);
    // Browsers reuse connections: what counts is the request the connection carries now.
    client.on('data', (chunk: Buffer) => {
      const start = chunk.toString('latin1', 0, 200);
      if (/^[A-Z]+ \//.test(start)) conn.first = start;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stall(requestLine) {
      let n = 0;
      for (const [client, { upstream, first }] of open) {
        if (!first.startsWith(requestLine)) continue;
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Paused, neither side reads: what the collector writes piles up unread, as behind a dead link.
        client.pause();
        upstream.pause();
        n++;
      }
      return n;
    },
    async close() {
      for (const [client, { upstream }] of open) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
