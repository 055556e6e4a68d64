import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Source, Store } from '../store/store.js';
import { HttpError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison: an admin key must not leak through response timing. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** `Authorization: Basic base64(writeKey:)`, Segment's way; the password part is ignored. */
export function basicUsername(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user ? user : undefined;
}

/** Sources by write key, cached: every ingest request resolves one. */
export class SourceRegistry {
  private byKey = new Map<string, Source>();

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    const sources = await this.store.listSources();
    this.byKey = new Map(sources.map((s) => [s.writeKey, s]));
  }

  all(): Source[] {
    return [...this.byKey.values()];
  }

  byWriteKey(key: string): Source | undefined {
    return this.byKey.get(key);
  }

  /** The write key from Basic auth, or from the body for sendBeacon (which cannot set headers). */
  authenticate(request: FastifyRequest, body: unknown): Source {
    let key = basicUsername(request.headers.authorization);
    if (key === undefined && typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const fromBody = (body as Record<string, unknown>).writeKey;
      if (typeof fromBody === 'string' && fromBody !== '') key = fromBody;
    }
    if (key === undefined) throw new HttpError('KIMLIK_AUTH_MISSING');
    const source = this.byKey.get(key);
    if (!source) throw new HttpError('KIMLIK_AUTH_INVALID');
    const origin = request.headers.origin;
    if (origin && source.allowedOrigins.length > 0 && !source.allowedOrigins.includes(origin)) {
      throw new HttpError('KIMLIK_ORIGIN_FORBIDDEN', `This source does not accept events from ${origin}`);
    }
    return source;
  }
}

/** Admin APIs answer only to the admin key; a write key (public in every browser) reads nothing. */
export function requireAdmin(adminKey: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token || !safeEqual(token, adminKey)) throw new HttpError('KIMLIK_ADMIN_AUTH_REQUIRED');
  };
}
