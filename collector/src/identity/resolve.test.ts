import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCKED_VALUES, extractIdentifiers, type IdentityConfig } from './identifiers.js';
import { BEGINNING, type ResolverLink, type ResolverNode, resolveCluster } from './resolve.js';

const node = (id: number, type: ResolverNode['type'], value: string, firstTs = id): ResolverNode => ({
  id,
  type,
  value,
  firstTs,
  firstMsg: `m${id}`,
});
const link = (a: number, b: number, ts: number): ResolverLink => ({ a, b, ts, messageId: `l${ts}`, detached: false });

describe('resolveCluster', () => {
  it('parks links past the identifier cap and reports them', () => {
    const nodes = [node(1, 'userId', 'u'), ...Array.from({ length: 5 }, (_, i) => node(i + 2, 'anonymousId', `d${i}`))];
    const links = nodes.slice(1).map((n, i) => link(1, n.id, 10 + i));
    const r = resolveCluster(nodes, links, { maxIdentifiers: 3, maxMerges: 100 });
    const founders = new Set(r.memberships.filter((m) => m.fromTs === BEGINNING).map((m) => m.founderId));
    expect(founders.size).toBe(4);
    expect(r.log.filter((e) => e.kind === 'cap_reached')).toHaveLength(3);
  });

  it('the older profile survives a merge', () => {
    const r = resolveCluster([node(1, 'userId', 'u', 50), node(2, 'anonymousId', 'a', 10)], [link(1, 2, 60)], {
      maxIdentifiers: 10,
      maxMerges: 10,
    });
    expect(r.memberships.every((m) => m.founderId === 2)).toBe(true);
    expect(r.log[0]?.detail).toMatchObject({ survivor: 'anonymousId:a', absorbed: 'userId:u' });
  });

  it('ignores detached links', () => {
    const r = resolveCluster([node(1, 'userId', 'u'), node(2, 'email', 'e')], [{ ...link(1, 2, 5), detached: true }], {
      maxIdentifiers: 10,
      maxMerges: 10,
    });
    expect(new Set(r.memberships.map((m) => m.founderId)).size).toBe(2);
  });

  it('names the same unmerged pair in a refusal whatever order the links are stored in', () => {
    // u0+d0 on one side, e+d5 on the other; an admin unmerged both d0-e and u0-e; d0-d5 would join them.
    const nodes = [
      node(1, 'userId', 'u0'),
      node(2, 'anonymousId', 'd0'),
      node(3, 'email', 'e'),
      node(4, 'anonymousId', 'd5'),
    ];
    const links = [
      link(1, 2, 5),
      link(3, 4, 6),
      { ...link(2, 3, 7), detached: true },
      { ...link(1, 3, 8), detached: true },
      link(2, 4, 9),
    ];
    const refusal = (order: ResolverLink[]) =>
      resolveCluster(nodes, order, { maxIdentifiers: 10, maxMerges: 10 }).log.find(
        (e) => e.kind === 'refused_unmerged',
      );
    const forward = refusal(links);
    expect(forward?.detail).toMatchObject({ link: ['anonymousId:d0', 'anonymousId:d5'] });
    expect(refusal([...links].reverse())).toEqual(forward);
  });
});

describe('extractIdentifiers', () => {
  const config: IdentityConfig = { traitIdentifiers: ['email'], blockedValues: new Set(DEFAULT_BLOCKED_VALUES) };
  it.each([
    '',
    'null',
    'undefined',
    'Anonymous',
    'guest',
    '0',
    '-1',
    'NaN',
    '[object Object]',
    '00000000-0000-0000-0000-000000000000',
    '---',
  ])('blocks %j', (v) => {
    const ids = extractIdentifiers({ type: 'identify', userId: v, anonymousId: v, traits: { email: v } }, config);
    expect(ids.userId).toBeUndefined();
    expect(ids.anonymousId).toBeUndefined();
    expect(ids.traits).toEqual([]);
    expect(ids.blocked.length).toBeGreaterThan(0);
  });
  it('reads email from traits and context.traits, trimmed and lower-cased', () => {
    const ids = extractIdentifiers(
      { type: 'track', anonymousId: 'a', context: { traits: { email: ' Ada@X.io ' } }, traits: { email: 'ada@x.io' } },
      config,
    );
    expect(ids.traits).toEqual([{ type: 'email', value: 'ada@x.io' }]);
  });
});
