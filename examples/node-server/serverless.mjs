// Serverless (AWS Lambda, Cloud Functions, …): create the client once per container, flush at the
// end of every invocation. The SDK's timers are unref'ed, so nothing holds the event loop open
// between invocations; a frozen container keeps its queue and sends it on the next flush.
import { Kimlik } from '@kimlik/node';

const kimlik = new Kimlik({
  writeKey: process.env.KIMLIK_WRITE_KEY,
  endpoint: process.env.KIMLIK_ENDPOINT,
  // No background sends between invocations: everything goes out in the explicit flush.
  flushAt: 1000,
  flushIntervalMs: 60_000,
});

export async function handler(event) {
  kimlik.track({ userId: event.userId, event: 'Invoice Paid', properties: { amount: event.amount } });
  // Bound the wait so a collector outage cannot eat the function's time budget; what is left
  // is retried on the next invocation (or use a spool on a persistent volume).
  const { pending } = await kimlik.flush({ timeoutMs: 2000 });
  return { statusCode: 200, body: JSON.stringify({ ok: true, pending }) };
}
