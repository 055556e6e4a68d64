import { readFileSync } from 'node:fs';
import { DELIVERY_DEFAULTS, InvalidOptionError } from '@kimlik/core';
import { describe, expect, it } from 'vitest';
import { Kimlik } from './kimlik.js';
import { DEFAULTS, OPTION_NAMES, resolveOptions } from './options.js';

describe('resolveOptions', () => {
  it('applies the defaults and freezes the result', () => {
    const o = resolveOptions({ writeKey: 'wk_123' });
    expect(o.endpoint.href).toBe(`${DEFAULTS.endpoint}/`);
    expect(o.delivery.flushAt).toBe(DELIVERY_DEFAULTS.flushAt);
    expect(o.spool).toBeUndefined();
    expect(o.gzipLevel).toBe(DEFAULTS.gzipLevel);
    expect(Object.isFrozen(o) && Object.isFrozen(DEFAULTS)).toBe(true);
    expect(resolveOptions({ writeKey: 'wk', spool: { dir: '/tmp/x' } }).spool).toEqual({
      dir: '/tmp/x',
      ...DEFAULTS.spool,
    });
  });

  it('throws at construction with what to write instead', () => {
    expect(() => resolveOptions({} as never)).toThrow(/writeKey.*required/);
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'collector:8080/x y' })).toThrow(/endpoint/);
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'ftp://x' })).toThrow(/http: or https:/);
    expect(() => resolveOptions({ writeKey: 'wk', spool: {} as never })).toThrow(/spool: \{ dir:/);
    expect(() => resolveOptions({ writeKey: 'wk', gzipLevel: 11 })).toThrow(/gzipLevel.*0 to 9/);
    expect(() => resolveOptions({ writeKey: 'wk', maxQueueEvents: -1 })).toThrow(/maxQueueEvents/);
    // 0 retried an outage in a tight loop (hundreds of requests a second).
    expect(() => new Kimlik({ writeKey: 'wk', retryBaseMs: 0 })).toThrow(
      new InvalidOptionError('retryBaseMs', 'expected a number >= 1, got 0'),
    );
    expect(resolveOptions({ writeKey: 'wk', retryBaseMs: 1, retryMaxMs: 1 }).delivery.backoff).toEqual({
      baseMs: 1,
      maxMs: 1,
    });
  });

  it('refuses a time past 2^31 - 1 ms: Node runs such a timer after 1 ms (a long backoff became a tight loop)', () => {
    for (const key of [
      'requestTimeoutMs',
      'exitFlushTimeoutMs',
      'shutdownTimeoutMs',
      'flushIntervalMs',
      'retryBaseMs',
      'retryMaxMs',
    ]) {
      const base = key === 'retryBaseMs' ? { retryMaxMs: 2 ** 31 } : {};
      expect(() => resolveOptions({ writeKey: 'wk', ...base, [key]: 2 ** 31 })).toThrow(
        new RegExp(`${key}.*2147483647`),
      );
      expect(() => resolveOptions({ writeKey: 'wk', [key]: 2 ** 31 - 1, retryMaxMs: 2 ** 31 - 1 })).not.toThrow();
    }
  });
});

describe('unknown options and endpoint paths', () => {
  it("refuses another SDK's option name, saying what to write instead", () => {
    expect(() => new Kimlik({ writeKey: 'wk', host: 'http://127.0.0.1:18160' } as never)).toThrow(
      new InvalidOptionError(
        'host',
        "unknown option (Segment's and PostHog's name); write endpoint: 'http://127.0.0.1:18160'",
      ),
    );
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ dataPlaneUrl: 'https://d.example' }, /"dataPlaneUrl".*RudderStack's.*write endpoint: 'https:\/\/d.example'/],
      [{ flushInterval: 60_000 }, /"flushInterval".*write flushIntervalMs: 60000/],
      [{ maxQueueSize: 10 }, /"maxQueueSize".*PostHog's.*write maxQueueEvents: 10/],
      [{ maxEventsInBatch: 10 }, /"maxEventsInBatch".*write maxBatchEvents: 10/],
      [{ path: '/v1/batch' }, /"path".*batches always go to \{endpoint\}\/v1\/batch/],
      [{ gzip: true }, /"gzip".*gzipLevel: 0/],
      // A typo, and an unknown key even when undefined (it would be set in production only).
      [{ flushAtt: 10 }, /"flushAtt": unknown option; the options are writeKey, .*flushAt,/],
      [{ host: undefined }, /"host".*write endpoint/],
      [
        { spool: { dir: '/tmp/x', path: '/tmp/y' } },
        /"spool.path": unknown option; the options are spool.dir, spool.maxBytes/,
      ],
    ];
    for (const [extra, message] of cases) {
      expect(() => resolveOptions({ writeKey: 'wk', ...extra } as never)).toThrow(message);
    }
  });

  it('refuses an endpoint ending in /v1/batch (it would post to …/v1/batch/v1/batch); a proxy prefix is kept', () => {
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'http://x/v1/batch' })).toThrow(
      /"endpoint": "http:\/\/x\/v1\/batch" ends in \/v1\/batch.*this would post to \/v1\/batch\/v1\/batch\); write endpoint: 'http:\/\/x'$/,
    );
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'https://x.example/kimlik/v1/batch/' })).toThrow(
      /write endpoint: 'https:\/\/x.example\/kimlik'$/,
    );
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'https://x.example/batch' })).toThrow(/ends in \/batch/);
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'https://x.example/?key=1' })).toThrow(
      /query or fragment.*'https:\/\/x.example'$/,
    );
    expect(resolveOptions({ writeKey: 'wk', endpoint: 'https://x.example/kimlik/' }).endpoint.pathname).toBe(
      '/kimlik/',
    );
  });

  it("accepts exactly the options the README's table lists", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Options'), readme.indexOf('## Delivery'));
    const listed = [...table.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
    expect(new Set(listed)).toEqual(OPTION_NAMES);
  });
});
