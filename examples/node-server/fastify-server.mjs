// Fastify with graceful shutdown: the SDK is shut down from fastify's onClose hook, so
// `app.close()` (here on SIGTERM/SIGINT) drains requests first, then flushes events.
//   KIMLIK_WRITE_KEY=wk_… KIMLIK_ENDPOINT=http://127.0.0.1:8080 node fastify-server.mjs
import { Kimlik } from '@kimlik/node';
import Fastify from 'fastify';

const app = Fastify({ logger: true });
const kimlik = new Kimlik({
  writeKey: process.env.KIMLIK_WRITE_KEY,
  endpoint: process.env.KIMLIK_ENDPOINT ?? 'http://127.0.0.1:8080',
  spool: process.env.KIMLIK_SPOOL_DIR ? { dir: process.env.KIMLIK_SPOOL_DIR } : undefined,
  onError: (err) => app.log.warn({ code: err.code, messageIds: err.messageIds }, err.message),
});

app.post('/login', async (request) => {
  const userId = String(request.query.user ?? 'anonymous');
  kimlik.identify({ userId, traits: { lastLoginAt: new Date().toISOString() } });
  // Not awaited: delivery is the SDK's job, and during a collector outage it retries until the
  // collector is back, so a handler awaiting it would wait as long, and app.close() (which waits
  // for handlers before onClose) with it. To know the outcome on a request path, bound the wait:
  // `await kimlik.track(…).within(500)` resolves with `pending: true` if it takes longer.
  const { messageId } = kimlik.track({ userId, event: 'Logged In', context: { ip: request.ip } });
  return { ok: true, messageId };
});

app.addHook('onClose', async () => {
  const result = await kimlik.shutdown({ timeoutMs: 5000 });
  app.log.info({ result }, 'kimlik stopped');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error(err);
        process.exit(1);
      },
    );
  });
}

await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' });
