import type { WireEvent } from '@kimlik/core';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { HttpError } from '../http/errors.js';
import { carriedIdentifierKeys } from '../identity/carried-identifiers.js';
import { type IdentityConfig, normalize } from '../identity/identifiers.js';
import { redactOtherPeople } from '../identity/redact-history.js';
import type { ProfileView, Store } from '../store/store.js';
import { parseLimit, wholeNumber } from './events.js';

const LOOKUP_TYPES = ['userId', 'anonymousId', 'email', 'phone'] as const;

/** Profiles: lookups, timeline, history, GDPR export/erase, unmerge. Admin key only. */
export function profileRoutes(
  app: FastifyInstance,
  deps: { store: Store; admin: preHandlerAsyncHookHandler; identityEnabled: boolean; identityConfig: IdentityConfig },
): void {
  const { store } = deps;
  const enabled: preHandlerAsyncHookHandler = async () => {
    if (!deps.identityEnabled) throw new HttpError('KIMLIK_IDENTITY_DISABLED');
  };
  const opts = { preHandler: [deps.admin, enabled] };
  const notFound = (id: string) => new HttpError('KIMLIK_PROFILE_NOT_FOUND', `No profile ${id}`);
  /**
   * An erased id names no one, even where its identifiers live on: a shared device outlives the
   * erasure of one of its users, and without this the erased id would lead to the other user.
   */
  const erasedId = async (id: string) => store.wasErased(id);

  app.get('/v1/profiles', opts, async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const lookups = LOOKUP_TYPES.filter((t) => q[t] !== undefined);
    const traitKeys = Object.keys(q).filter((k) => k.startsWith('trait.'));
    // Two criteria would silently use one of them: a lookup by email that answers by userId.
    if (lookups.length + traitKeys.length > 1) {
      throw new HttpError(
        'KIMLIK_QUERY_INVALID',
        `Give one criterion: one of ${LOOKUP_TYPES.join(', ')}, or one trait.<name>; got ${[...lookups, ...traitKeys].join(', ')}`,
      );
    }
    const lookup = lookups[0];
    if (lookup) {
      const value = normalize(lookup, q[lookup] as string);
      const id = await store.findProfile(lookup, value);
      const profile = id ? await store.getProfile(id) : null;
      if (!profile)
        throw new HttpError('KIMLIK_PROFILE_NOT_FOUND', `No profile with ${lookup} ${JSON.stringify(value)}`);
      return profile;
    }
    if (traitKeys.length !== 1) {
      throw new HttpError(
        'KIMLIK_QUERY_INVALID',
        `Look a profile up with one of ${LOOKUP_TYPES.join(', ')}, or list by one trait: ?trait.<name>=<value>`,
      );
    }
    const key = traitKeys[0] as string;
    const name = key.slice('trait.'.length);
    const raw = q[key] as string;
    const limit = parseLimit(q.limit, 50, 500);
    // A cursor is the last profile id of the previous page; anything else would restart the list.
    if (q.cursor !== undefined && !/^p_[0-9a-z]{1,11}$/.test(q.cursor)) {
      throw new HttpError('KIMLIK_QUERY_INVALID', 'cursor must be the nextCursor of a previous page');
    }
    const query = { limit, cursor: q.cursor };
    // `?trait.age=30` means the number 30 as well as the text "30" (and true/false the booleans).
    // Only JSON's own spelling of a number: "01234" (a zip code) is text alone.
    const values: unknown[] = /^(-?(0|[1-9]\d*)(\.\d+)?|true|false)$/.test(raw) ? [raw, JSON.parse(raw)] : [raw];
    return store.listProfilesByTrait(name, values, query);
  });

  app.get('/v1/profiles/:id', opts, async (request) => {
    const { id } = request.params as { id: string };
    if (await erasedId(id)) throw notFound(id);
    const profile = await store.getProfile(id);
    if (!profile) throw notFound(id);
    return profile;
  });

  app.get('/v1/profiles/:id/events', opts, async (request) => {
    const { id } = request.params as { id: string };
    const q = request.query as Record<string, string | undefined>;
    const limit = parseLimit(q.limit, 100);
    const [ts, eventId, ...rest] = q.before?.split(':') ?? [];
    if (
      q.before !== undefined &&
      (wholeNumber(ts, true) === null || wholeNumber(eventId) === null || rest.length > 0)
    ) {
      throw new HttpError('KIMLIK_QUERY_INVALID', 'before must be the nextCursor of a previous page');
    }
    if (await erasedId(id)) throw notFound(id);
    const page = await store.profileEvents(id, { limit, before: q.before });
    if (!page) throw notFound(id);
    return page;
  });

  app.get('/v1/profiles/:id/history', opts, async (request) => {
    const { id } = request.params as { id: string };
    if (await erasedId(id)) throw notFound(id);
    const history = await store.profileHistory(id);
    if (!history) throw notFound(id);
    return history;
  });

  app.get('/v1/profiles/:id/export', opts, async (request, reply) => {
    const { id } = request.params as { id: string };
    reply.header('Content-Disposition', `attachment; filename="kimlik-profile-${id.replace(/[^\w-]/g, '')}.json"`);
    // An erased person: the export is empty, and says why.
    if (await erasedId(id)) return { profile: null, erased: true, events: [], history: null };
    const profile = await store.getProfile(id);
    if (!profile) throw notFound(id);
    const events: Record<string, unknown>[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.profileEvents(profile.id, { limit: 1000, before });
      if (!page) break;
      events.push(...page.events);
      if (!page.nextCursor) break;
      before = page.nextCursor;
    }
    const history = await store.profileHistory(profile.id);
    const setAside = (await store.setAsideEvents()).filter((e) => carries(e, profile.identifiers, deps.identityConfig));
    return {
      exportedAt: new Date().toISOString(),
      profile,
      events,
      // Stored, but their identity failed: no profile holds them, and they name one of this person's identifiers.
      setAsideEvents: setAside,
      history: history && redactOtherPeople(history, profile.identifiers),
    };
  });

  app.delete('/v1/profiles/:id', opts, async (request) => {
    const { id } = request.params as { id: string };
    if (await erasedId(id)) throw notFound(id);
    const result = await store.eraseProfile(id);
    if (!result) throw notFound(id);
    return { erased: true, ...result };
  });

  app.post('/v1/profiles/:id/unmerge', opts, async (request) => {
    const { id } = request.params as { id: string };
    const body = request.body as { type?: unknown; value?: unknown } | undefined;
    const type = body?.type;
    if (
      typeof type !== 'string' ||
      !(LOOKUP_TYPES as readonly string[]).includes(type) ||
      typeof body?.value !== 'string'
    ) {
      throw new HttpError('KIMLIK_REQUEST_INVALID', `Send {"type": one of ${LOOKUP_TYPES.join(', ')}, "value": "..."}`);
    }
    if (await erasedId(id)) throw notFound(id);
    const result = await store.unmergeIdentifier(
      id,
      type,
      normalize(type as (typeof LOOKUP_TYPES)[number], body.value),
    );
    if ('error' in result) {
      if (result.error === 'profile') throw notFound(id);
      if (result.error === 'alone') {
        throw new HttpError(
          'KIMLIK_IDENTIFIER_ALONE',
          `${type} ${JSON.stringify(body.value)} is the only identifier of profile ${id}: there is nothing to detach it from`,
        );
      }
      throw new HttpError(
        'KIMLIK_IDENTIFIER_NOT_IN_PROFILE',
        `${type} ${JSON.stringify(body.value)} is not part of profile ${id}`,
      );
    }
    return result;
  });
}

/**
 * Whether a set-aside event names one of the profile's identifiers (a shared device's only within
 * the periods it belongs to this profile).
 */
function carries(
  event: Record<string, unknown>,
  identifiers: ProfileView['identifiers'],
  config: IdentityConfig,
): boolean {
  const keys = new Set(carriedIdentifierKeys(event as unknown as WireEvent, config));
  const at = typeof event.timestamp === 'string' ? Date.parse(event.timestamp) : Number.NaN;
  return identifiers.some(
    (i) =>
      keys.has(`${i.type}:${i.value}`) &&
      (!i.periods ||
        i.periods.some(
          (p) => (p.from === null || Date.parse(p.from) <= at) && (p.to === null || at < Date.parse(p.to)),
        )),
  );
}
