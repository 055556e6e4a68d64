import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DEFAULTS } from './options.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SNIPPET = new URL('../dist/snippet.min.js', import.meta.url);

/** Rows of the README's option table: name → default column. */
function documentedOptions(): Map<string, string> {
  const section = README.slice(README.indexOf('## Options'), README.indexOf('## Identity on the device'));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `(\w+)`\s*\| ([^|]+) \|/gm)) rows.set(m[1] as string, (m[2] as string).trim());
  return rows;
}

const literal = (v: unknown) =>
  typeof v === 'string' ? `\`'${v}'\`` : typeof v === 'number' && !Number.isFinite(v) ? '`Infinity`' : `\`${v}\``;

describe('README', () => {
  test('documents every option with the default the code uses', () => {
    const effective: Record<string, unknown> = { ...DEFAULTS };
    const rows = documentedOptions();
    expect([...rows.keys()].sort()).toEqual(['writeKey', ...Object.keys(effective)].sort());
    for (const [name, value] of Object.entries(effective)) {
      if (name === 'endpoint' || name === 'onError') continue;
      expect(rows.get(name), name).toBe(literal(value));
    }
  });

  test('shows the snippet exactly as the build makes it', () => {
    const built = readFileSync(SNIPPET, 'utf8')
      .trim()
      .replace('__KIMLIK_SRC__', 'https://collector.example.com/kimlik.js')
      .replace('__KIMLIK_WRITE_KEY__', 'YOUR_WRITE_KEY');
    expect(README).toContain(built);
  });
});
