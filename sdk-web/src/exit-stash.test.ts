import { afterEach, describe, expect, test, vi } from 'vitest';
import { takeStashes, writeStash } from './exit-stash.js';

/** localStorage as the browser has it, over a Map (key order: insertion). */
function fakeLocalStorage(): Map<string, string> {
  const map = new Map<string, string>();
  vi.stubGlobal('localStorage', {
    get length() {
      return map.size;
    },
    key: (i: number) => [...map.keys()][i] ?? null,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, String(v)),
    removeItem: (k: string) => void map.delete(k),
  });
  return map;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('page-exit stash', () => {
  test("is per tab and source: the next load takes its source's stashes once, oldest first", () => {
    const map = fakeLocalStorage();
    const report = vi.fn();
    writeStash('k_stash_src1_tab1', [['03', '{"n":3}']], report);
    writeStash(
      'k_stash_src1_tab2',
      [
        ['01', '{"n":1}'],
        ['02', '{"n":2}'],
      ],
      report,
    );
    writeStash('k_stash_src2_tab3', [['04', '{"n":4}']], report);
    expect(takeStashes('k_stash_src1_', report)).toEqual([
      ['01', '{"n":1}'],
      ['02', '{"n":2}'],
      ['03', '{"n":3}'],
    ]);
    // Taken means removed: a second tab loading next merges nothing twice.
    expect(takeStashes('k_stash_src1_', report)).toEqual([]);
    expect([...map.keys()]).toEqual(['k_stash_src2_tab3']);
    expect(report).not.toHaveBeenCalled();
  });

  test('an empty stash removes the key; past about 1 M characters the newest are kept and the rest reported', () => {
    const map = fakeLocalStorage();
    const report = vi.fn();
    const pad = 'x'.repeat(100_000);
    const pending = Array.from({ length: 12 }, (_, i): [string, string] => [String(i).padStart(2, '0'), pad]);
    writeStash('k_stash_s_t', pending, report);
    const kept = JSON.parse(map.get('k_stash_s_t') as string) as [string, string][];
    expect(kept.map((p) => p[0])).toEqual(['03', '04', '05', '06', '07', '08', '09', '10', '11']);
    expect(report.mock.calls[0]?.[0].message).toMatch(/3 events lost/);
    writeStash('k_stash_s_t', [], report);
    expect(map.size).toBe(0);
  });

  test('blocked localStorage is reported, never thrown', () => {
    vi.stubGlobal('localStorage', {
      setItem: () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
    });
    const report = vi.fn();
    expect(() => writeStash('k', [['1', '{}']], report)).not.toThrow();
    expect(report.mock.calls[0]?.[0].code).toBe('KIMLIK_WEB_STORAGE_UNAVAILABLE');
  });
});
