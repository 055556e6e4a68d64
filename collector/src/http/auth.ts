import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Source, Store } from '../store/store.js';
import { originRefused } from './cors.js';
import { HttpError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison: an admin key must not leak through response timing. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The credentials of `Authorization: <scheme> <credentials>`. The scheme is matched
 * case-insensitively (RFC 9110 §11.1): clients send `basic` or `BEARER` too.
 */
function credentials(header: string | undefined, scheme: 'basic' | 'bearer'): string | undefined {
  const space = header?.indexOf(' ') ?? -1;
  if (header === undefined || space < 0 || header.slice(0, space).toLowerCase() !== scheme) return undefined;
  return header.slice(space + 1).trim();
}

/** `Authorization: Basic base64(writeKey:)`, Segment's way; the password part is ignored. */
export function basicUsername(header: string | undefined): string | undefined {
  const encoded = credentials(header, 'basic');
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user ? user : undefined;
}

/** `?writeKey=…`, where clients that cannot set headers put it (sendBeacon, RudderStack's config fetch). */
export function queryWriteKey(request: FastifyRequest): string | undefined {
  let key = (request.query as Record<string, unknown> | undefined)?.writeKey;
  // Repeated (a base URL that already carried it, with the client's own appended): one key is
  // that key; two different ones are refused by name rather than read as no key at all.
  if (Array.isArray(key)) {
    if (new Set(key).size > 1) {
      throw new HttpError('KIMLIK_AUTH_INVALID', 'The query string carries two different write keys (?writeKey=)');
    }
    key = key[0];
  }
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/**
 * An unknown key waits for a read of the sources that started after it arrived: a key just created
 * on another collector works here at once. Reads are this far apart at least, so a flood of wrong
 * keys costs at most ten reads a second (and each wrong key waits up to this long for its 401).
 */
const REFRESH_UNKNOWN_MS = 100;
/** How often sources are re-read anyway: origin changes and rotations made on another collector. */
const REFRESH_EVERY_MS = 10_000;

/**
 * Sources by write key, cached: every ingest request resolves one. The cache is re-read after a
 * change made here, when an unknown key arrives (a source another collector just created), and
 * every 10 s (rotations and origin changes made elsewhere).
 */
export class SourceRegistry {
  private byKey = new Map<string, Source>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(private readonly store: Store) {}

  /** `loadedAt` is when the read started: what it found was in the database by then. */
  async load(): Promise<void> {
    const started = Date.now();
    const sources = await this.store.listSources();
    this.byKey = new Map(sources.map((s) => [s.writeKey, s]));
    this.loadedAt = started;
  }

  /**
   * Waits for a read of the sources that started after `asked`: an unknown key may be one another
   * collector created a moment ago. Reads stay at least REFRESH_UNKNOWN_MS apart, so a key
   * arriving just after one waits for the next (at most that long) instead of a 401, which
   * Segment-style clients never retry.
   */
  private async readSince(asked: number): Promise<void> {
    while (this.loadedAt < asked) {
      if (this.loading) {
        await this.loading;
        continue;
      }
      const wait = this.loadedAt + REFRESH_UNKNOWN_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else
        this.loading = this.load().finally(() => {
          this.loading = null;
        });
    }
  }

  /** Re-reads the sources when the cache is older than `maxAgeMs`; concurrent callers share one read. */
  async refresh(maxAgeMs = REFRESH_EVERY_MS): Promise<void> {
    if (Date.now() - this.loadedAt < maxAgeMs) return;
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    await this.loading;
  }

  /** `authenticate`, re-reading the sources first if they are stale or the key is unknown here. */
  async authenticateFresh(request: FastifyRequest, body: unknown, keyInQuery = false): Promise<Source> {
    await this.refresh();
    try {
      return this.authenticate(request, body, keyInQuery);
    } catch (err) {
      if ((err as HttpError).code !== 'KIMLIK_AUTH_INVALID') throw err;
      await this.readSince(Date.now());
      return this.authenticate(request, body, keyInQuery);
    }
  }

  /** The source of a write key, re-reading the sources as `authenticateFresh` does. */
  async byWriteKeyFresh(key: string): Promise<Source | undefined> {
    await this.refresh();
    if (!this.byKey.has(key)) await this.readSince(Date.now());
    return this.byKey.get(key);
  }

  byId(id: number): Source | undefined {
    for (const s of this.byKey.values()) if (s.id === id) return s;
    return undefined;
  }

  all(): Source[] {
    return [...this.byKey.values()];
  }

  /**
   * The write key from Basic auth, or from the body for sendBeacon (which cannot set headers), or
   * with `keyInQuery` from `?writeKey=` (routes whose clients put it there).
   */
  authenticate(request: FastifyRequest, body: unknown, keyInQuery = false): Source {
    const origin = request.headers.origin;
    if (origin && originRefused(request)) {
      throw new HttpError(
        'KIMLIK_ORIGIN_FORBIDDEN',
        `This collector does not accept events from ${origin} (KIMLIK_CORS_ORIGINS)`,
      );
    }
    let key = basicUsername(request.headers.authorization);
    if (key === undefined && typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const fromBody = (body as Record<string, unknown>).writeKey;
      if (typeof fromBody === 'string' && fromBody !== '') key = fromBody;
    }
    if (key === undefined && keyInQuery) key = queryWriteKey(request);
    if (key === undefined) throw new HttpError('KIMLIK_AUTH_MISSING');
    const source = this.byKey.get(key);
    if (!source) throw new HttpError('KIMLIK_AUTH_INVALID');
    if (origin && source.allowedOrigins.length > 0 && !source.allowedOrigins.includes(origin)) {
      throw new HttpError('KIMLIK_ORIGIN_FORBIDDEN', `This source does not accept events from ${origin}`);
    }
    return source;
  }
}

/** Admin APIs answer only to the admin key; a write key (public in every browser) reads nothing. */
export function requireAdmin(adminKey: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = credentials(request.headers.authorization, 'bearer');
    if (!token || !safeEqual(token, adminKey)) throw new HttpError('KIMLIK_ADMIN_AUTH_REQUIRED');
  };
}
