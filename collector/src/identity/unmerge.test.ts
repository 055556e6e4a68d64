import { describe, expect, it } from 'vitest';
import { UNMERGE_UNDONE_MAX_CHARS, UNMERGE_UNDONE_MAX_ENTRIES, undoneByUnmerge } from './unmerge.js';

const merge = (i: number) => ({
  kind: 'merge',
  timestamp: new Date(i * 1000).toISOString(),
  messageId: `m${i}`,
  link: [`anonymousId:kiosk`, `userId:u${i}`],
});
const snapshot = (identity: ReturnType<typeof merge>[], traits: Record<string, unknown> = {}) => ({
  history: { identity },
  traits,
});

describe('undoneByUnmerge', () => {
  it('names the entries that went and the trait values that changed, whatever order detail keys were written in', () => {
    const kept = merge(1);
    const reordered = { link: kept.link, messageId: kept.messageId, timestamp: kept.timestamp, kind: kept.kind };
    const d = undoneByUnmerge(
      snapshot([kept, merge(2)], { plan: 'pro', email: 'e@x.io', seat: 3 }),
      snapshot([reordered], { plan: 'free', email: 'e@x.io' }),
    );
    expect(d).toEqual({
      undid: [merge(2)],
      traits: [
        { key: 'plan', from: 'pro', to: 'free' },
        { key: 'seat', from: 3, to: null },
      ],
    });
  });

  it('stays bounded when a kiosk cluster loses thousands of entries, counting what it leaves out', () => {
    const many = Array.from({ length: 5000 }, (_, i) => merge(i));
    const d = undoneByUnmerge(snapshot(many), snapshot([]));
    expect(d.undid).toEqual(many.slice(0, UNMERGE_UNDONE_MAX_ENTRIES));
    expect(d.undidOmitted).toBe(5000 - UNMERGE_UNDONE_MAX_ENTRIES);
    const big = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'x'.repeat(4000)]));
    const e = undoneByUnmerge(snapshot(many, big), snapshot([]));
    expect(JSON.stringify(e).length).toBeLessThan(UNMERGE_UNDONE_MAX_CHARS + 1000);
    expect(e.traits.length + (e.traitsOmitted ?? 0)).toBe(50);
    expect(e.undid.length + (e.undidOmitted ?? 0)).toBe(5000);
    expect(e.traitsOmitted).toBeGreaterThan(0);
  });
});
