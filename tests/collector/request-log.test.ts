import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ADMIN_KEY, spawnCollector, tempDir } from '../helpers/collector.js';
import { waitFor } from '../helpers/fault-server.js';

const lines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const refusedBatch = (url: string) =>
  fetch(`${url}/v1/batch?email=ada@x.io`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa('wk_rotated_away:')}` },
    body: JSON.stringify({ batch: [{ type: 'track', userId: 'ada@x.io', event: 'Secret' }] }),
  });

it('debug logs each request once, at debug level, with method, route and status (never a payload or query string)', async () => {
  const dir = tempDir();
  const c = await spawnCollector({ KIMLIK_DATABASE: join(dir.path, 'k.db'), KIMLIK_LOG_LEVEL: 'debug' });
  try {
    expect((await refusedBatch(c.url)).status).toBe(401);
    await fetch(`${c.url}/healthz`);
    const requestLines = () => lines(c.output()).filter((l) => l.msg === 'request');
    await waitFor(() => requestLines().length >= 2, 5000, 'two request lines');
    const requests = requestLines();
    expect(requests).toEqual([
      expect.objectContaining({ level: 20, method: 'POST', route: '/v1/batch', statusCode: 401 }),
      expect.objectContaining({ level: 20, method: 'GET', route: '/healthz', statusCode: 200 }),
    ]);
    expect(typeof requests[0]?.responseTimeMs).toBe('number');
    // Fastify's own pair of lines per request, at info level, is gone.
    expect(lines(c.output()).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
    expect(c.output()).not.toContain('ada@x.io');
  } finally {
    c.child.kill('SIGTERM');
    await c.exited;
    dir.remove();
  }
});

it('at info, no line per request, but /metrics counts answers by route and status (a stream of 401s after a key rotation shows)', async () => {
  const dir = tempDir();
  const c = await spawnCollector({ KIMLIK_DATABASE: join(dir.path, 'k.db') });
  try {
    for (let i = 0; i < 3; i++) expect((await refusedBatch(c.url)).status).toBe(401);
    expect(lines(c.output()).filter((l) => l.msg === 'request')).toEqual([]);
    const metrics = await (
      await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
    ).text();
    expect(metrics).toContain('# TYPE kimlik_http_responses_total counter');
    expect(metrics).toMatch(/^kimlik_http_responses_total\{route="\/v1\/batch",status="401"\} 3$/m);
  } finally {
    c.child.kill('SIGTERM');
    await c.exited;
    dir.remove();
  }
});
