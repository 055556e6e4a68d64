import type { Ev } from '../helpers/population.js';

const auth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

export interface SendResult {
  status: number;
  body: { accepted?: number; duplicates?: number } | null;
}

/** One batch to one collector; a refused connection is status 0. */
export async function sendBatch(url: string, writeKey: string, batch: Ev[]): Promise<SendResult> {
  try {
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth(writeKey) },
      body: JSON.stringify({ batch }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    // The process was killed or the socket reset: nothing was acknowledged.
    return { status: 0, body: null };
  }
}

/** Splits events into batches of `size`. */
export const batches = (events: Ev[], size: number): Ev[][] =>
  Array.from({ length: Math.ceil(events.length / size) }, (_, i) => events.slice(i * size, (i + 1) * size));

/** Runs `worker` on `concurrency` lanes until the queue is empty. */
export async function lanes<T>(items: T[], concurrency: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await worker(items[next++] as T);
    }),
  );
}
