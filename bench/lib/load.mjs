// Shared load generator for the ingest benchmarks: keep-alive HTTP, 100-event Segment batches
// with random v4 messageIds (what Segment-compatible clients send), bounded by count and time.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

/** `persons`: distinct anonymous IDs the batches cycle through (few: identifiers are mostly known). */
export function makeBatch(size, seq, persons = 200_000) {
  const now = new Date().toISOString();
  const batch = new Array(size);
  for (let i = 0; i < size; i++) {
    batch[i] = {
      type: 'track',
      event: 'Product Viewed',
      messageId: randomUUID(),
      anonymousId: `anon-${(seq * size + i) % persons}`,
      timestamp: now,
      properties: { sku: `sku-${i}`, price: 19.99, currency: 'EUR', list: 'search results' },
      context: {
        library: { name: 'kimlik-bench', version: '1' },
        page: { path: '/products', url: 'http://127.0.0.1/products' },
      },
    };
  }
  return JSON.stringify({ batch, sentAt: now });
}

/**
 * Sends batches with `concurrency` requests in flight (`url` may be a list: round robin by worker) until `maxEvents` were acknowledged or
 * `maxMs` passed. Returns throughput and latency percentiles; `onProgress` sees each ack.
 */
export async function drive({
  url,
  auth,
  concurrency,
  batchSize = 100,
  maxEvents,
  maxMs,
  onProgress,
  makeBody = makeBatch,
}) {
  // Several URLs (collector processes behind a "load balancer"): worker i sends to url i mod n.
  const targets = [url].flat().map((u) => new URL('/v1/batch', u));
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  let acked = 0;
  let seq = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + maxMs;
  const worker = async (_, w) => {
    const target = targets[w % targets.length];
    while (acked < maxEvents && performance.now() < deadline) {
      const body = makeBody(batchSize, seq++);
      const t0 = performance.now();
      const status = await new Promise((resolve) => {
        const req = http.request(
          target,
          {
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              authorization: auth,
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          },
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
      latencies.push(performance.now() - t0);
      if (status === 200) {
        acked += batchSize;
        onProgress?.(acked, performance.now() - started);
      } else {
        errors++;
        if (status === 429 || status === 503) await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { events: acked, seconds, eventsPerSec: acked / seconds, p50: pct(0.5), p99: pct(0.99), errors };
}
