// Minimal node:http server sending server-side events, with graceful shutdown on SIGTERM/SIGINT.
//   KIMLIK_WRITE_KEY=wk_… KIMLIK_ENDPOINT=http://127.0.0.1:8080 node http-server.mjs
//   curl -X POST 'http://127.0.0.1:3000/orders?user=42'
import { createServer } from 'node:http';
import { Kimlik } from '@kimlik/node';

const kimlik = new Kimlik({
  writeKey: process.env.KIMLIK_WRITE_KEY,
  endpoint: process.env.KIMLIK_ENDPOINT ?? 'http://127.0.0.1:8080',
  // Events are on disk before track() returns: a crash, a SIGKILL or a collector outage loses
  // nothing; the next start with the same directory sends the rest.
  spool: process.env.KIMLIK_SPOOL_DIR ? { dir: process.env.KIMLIK_SPOOL_DIR } : undefined,
  onError: (err) => console.error(`kimlik: ${err.code} ${err.message}`),
});

/** The request's JSON body (`{}` when empty); the request is in flight until it is read. */
async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/orders') {
    const userId = url.searchParams.get('user') ?? 'anonymous-customer';
    let order;
    try {
      order = await readJson(req);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"the body is not JSON"}');
      return;
    }
    // Closing: this connection ends with its answer instead of idling until its keep-alive timeout.
    if (stopping) res.setHeader('connection', 'close');
    // Fire and forget: track() never throws and needs no await.
    kimlik.track({
      userId,
      event: 'Order Completed',
      properties: { total: Number(order.total ?? 42.5), currency: 'EUR' },
    });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    return;
  }
  res.writeHead(404);
  res.end();
});

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

// SIGTERM handling is the application's choice: stop accepting requests and wait for those in
// flight (they may still track), then let the SDK flush for a bounded time. shutdown() never hangs
// past its timeout; what is not acknowledged by then stays in the spool (or is reported as dropped
// without one).
let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  // A request that never ends must not hold the shutdown: cut what is left after 10 s.
  setTimeout(() => server.closeAllConnections(), 10_000).unref();
  server.close(async () => {
    const result = await kimlik.shutdown({ timeoutMs: 5000 });
    console.log(`kimlik stopped: ${JSON.stringify(result)}`);
    process.exit(0);
  });
  // Keep-alive connections between requests would hold server.close() until they time out.
  server.closeIdleConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
