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
  // Awaiting is optional; it resolves once the collector stored the event (never rejects).
  const { delivered } = await kimlik.track({ userId, event: 'Logged In', context: { ip: request.ip } });
  return { ok: true, delivered };
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
