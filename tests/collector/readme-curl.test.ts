// The README's curl examples, pasted as a new user would (real curl, in order) against a live
// collector: each must succeed, and the answers the README shows must be the answers given.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const run = promisify(execFile);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Commands of the ```sh block under `heading`, continuation lines joined, each with the "# →" answer shown after it. */
function examples(heading: string): { command: string; shown: string | null }[] {
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const out: { command: string; shown: string | null }[] = [];
  const lines = block.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('# →')) {
      let shown = line.slice(3).trim();
      while (lines[i + 1]?.startsWith('#    ')) shown += (lines[++i] as string).slice(1).trim();
      (out[out.length - 1] as { shown: string | null }).shown = shown;
      continue;
    }
    if (!line.startsWith('curl')) continue;
    let command = line;
    // A trailing backslash or an open quote continues the command on the next line.
    while (command.endsWith('\\') || (command.split("'").length - 1) % 2 === 1) command += `\n${lines[++i]}`;
    out.push({ command: command.replace(/\s+# [^'"]*$/, ''), shown: null });
  }
  return out;
}

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

async function curl(command: string, profileId = '') {
  const line = command.replaceAll('http://localhost:8080', c.url).replaceAll('p_…', profileId);
  // Adds only the status after the body; the command is the README's.
  const { stdout } = await run('bash', ['-c', `${line} -sS -w '\\n%{http_code}'`], {
    env: { ...process.env, WK: c.writeKey, AK: c.adminKey },
  });
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

it('the collector API examples work as shown', async () => {
  const steps = examples('## Collector API');
  expect(steps.length).toBeGreaterThanOrEqual(3);
  for (const { command, shown } of steps) {
    const r = await curl(command);
    expect(r.status, command).toBe(200);
    if (shown) expect(JSON.parse(r.body)).toEqual(JSON.parse(shown));
  }
});

it('the profile examples work as shown, after the collector API examples', async () => {
  const steps = examples('### Profiles (admin key)');
  const [lookup, ...rest] = steps;
  const first = await curl((lookup as { command: string }).command);
  expect(first.status).toBe(200);
  const profile = JSON.parse(first.body) as Record<string, unknown>;
  // The README elides ids and times with "…": everything else must match.
  const shown = JSON.parse((lookup?.shown ?? '').replaceAll('"p_…"', '"p"').replaceAll('"…"', '""')) as Record<
    string,
    unknown
  >;
  expect({ ...profile, id: 'p', firstSeen: '', lastSeen: '' }).toEqual(shown);
  for (const { command } of rest) {
    const r = await curl(command, profile.id as string);
    expect(r.status, command).toBe(200);
  }
});
