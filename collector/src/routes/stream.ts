import type { ServerResponse } from 'node:http';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { LiveFeed, LiveItem } from '../ingest/live-feed.js';

/**
 * Items are sent in batches this often: at 1 000 events/s a browser gets ten messages a second
 * instead of a thousand, and the cost per item is one JSON.stringify.
 */
export const STREAM_FLUSH_INTERVAL_MS = 100;
/** Items held per connection between flushes (or while the socket is backed up); beyond it they are counted as dropped. */
export const STREAM_MAX_BUFFERED_ITEMS = 2000;
/**
 * `GET /v1/stream/events`: what ingest accepts and rejects, as server-sent events. The admin key
 * rides in the Authorization header like every admin call, so the dashboard reads the stream with
 * fetch() rather than EventSource (which cannot set headers and would put the key in the URL and
 * every access log). Messages: `event: hello` with `{flushIntervalMs, heartbeatMs}`; `event: items`
 * with `{items, dropped}`; `event: bye` on shutdown. A comment line every `heartbeatMs` keeps proxies
 * from closing a quiet stream and tells the reader the connection still works: a network that goes
 * silent (no reset, nothing fails) is noticed only by the heartbeats that stop.
 * A slow reader never slows ingest: its buffer is capped and the overflow is reported as `dropped`.
 */
export function streamRoutes(
  app: FastifyInstance,
  deps: { feed: LiveFeed; admin: preHandlerAsyncHookHandler; heartbeatMs: number },
): void {
  const open = new Set<(reason: string) => void>();
  // close() waits for open connections; a stream never ends by itself, so end them first.
  app.addHook('preClose', async () => {
    for (const end of open) end('shutdown');
  });

  app.get('/v1/stream/events', { preHandler: deps.admin }, (_request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // The connection carries this stream only; closing it with the stream lets close() finish.
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    });
    res.write(
      `retry: 2000\nevent: hello\ndata: ${JSON.stringify({ flushIntervalMs: STREAM_FLUSH_INTERVAL_MS, heartbeatMs: deps.heartbeatMs })}\n\n`,
    );

    let buffer: LiveItem[] = [];
    let dropped = 0;
    const unsubscribe = deps.feed.subscribe((items) => {
      const room = STREAM_MAX_BUFFERED_ITEMS - buffer.length;
      if (items.length <= room) {
        for (const item of items) buffer.push(item);
        return;
      }
      for (let i = 0; i < room; i++) buffer.push(items[i] as LiveItem);
      dropped += items.length - Math.max(0, room);
    });
    const flush = () => {
      // While the socket is backed up, keep (bounded) items rather than queue unbounded writes.
      if ((buffer.length === 0 && dropped === 0) || res.writableNeedDrain) return;
      const message = `event: items\ndata: ${JSON.stringify({ items: buffer, dropped })}\n\n`;
      buffer = [];
      dropped = 0;
      res.write(message);
    };
    const flushTimer = setInterval(flush, STREAM_FLUSH_INTERVAL_MS);
    const heartbeat = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': ping\n\n');
    }, deps.heartbeatMs);
    const cleanup = () => {
      clearInterval(flushTimer);
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
      buffer = [];
    };
    const end = (reason: string) => {
      cleanup();
      endStream(res, reason);
    };
    open.add(end);
    // The response's close (not the request's, which fires once the request is read) is the client leaving.
    res.on('close', cleanup);
  });
}

function endStream(res: ServerResponse, reason: string): void {
  if (res.writableEnded) return;
  res.end(`event: bye\ndata: ${JSON.stringify({ reason })}\n\n`);
}
