import type { StatsView } from '@kimlik/core';
import { REJECTION_CODES } from '@kimlik/core';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

const MINUTE_MS = 60_000;
/** The overview's windows, counted per minute. */
export const STATS_RANGES = { hour: 60 * MINUTE_MS, day: 24 * 60 * MINUTE_MS } as const;
const TOP_EVENTS = 10;

/** `GET /v1/stats` (the dashboard's overview). Admin key only. */
export function statsRoutes(
  app: FastifyInstance,
  deps: { store: Store; metrics: Metrics; admin: preHandlerAsyncHookHandler },
): void {
  const startedAt = new Date().toISOString();

  app.get('/v1/stats', { preHandler: deps.admin }, async (request): Promise<StatsView> => {
    const { range = 'hour' } = request.query as { range?: string };
    if (range !== 'hour' && range !== 'day') {
      throw new HttpError('KIMLIK_QUERY_INVALID', `range must be "hour" or "day"; got ${JSON.stringify(range)}`);
    }
    // Whole minutes, the current one last, so a chart's buckets do not shift between refreshes.
    const untilMs = Math.ceil((Date.now() + 1) / MINUTE_MS) * MINUTE_MS;
    const sinceMs = untilMs - STATS_RANGES[range];
    const stats = await deps.store.stats({ sinceMs, untilMs, bucketMs: MINUTE_MS, top: TOP_EVENTS });
    // Rejected events are never stored: the process's counters are the only record.
    const byCode: Record<string, number> = {};
    let rejected = 0;
    for (const code of Object.values(REJECTION_CODES)) {
      const n = deps.metrics.rejected.get({ code });
      if (n > 0) byCode[code] = n;
      rejected += n;
    }
    return {
      range,
      bucketMs: MINUTE_MS,
      buckets: stats.buckets.map((b) => ({ start: new Date(b.startMs).toISOString(), events: b.events })),
      topEvents: stats.topEvents,
      totals: { ...stats.totals, rejected },
      rejected: { since: startedAt, byCode },
    };
  });
}
