import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

const SERVE = fileURLToPath(new URL('../../examples/script-tag/serve.mjs', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

/** The static examples' server (script-tag, SPA) as its command line runs it, on port 0. */
function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [SERVE], {
    env: { ...process.env, PORT: '0', KIMLIK_WRITE_KEY: 'wk_example', KIMLIK_URL: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve.mjs did not start: ${out}`)), 15_000);
    const collect = (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.mjs exited with ${code}: ${out}`));
    });
  });
}

it('a path that is not valid percent-encoding gets 400, and the server keeps serving', async () => {
  const { child, url } = await startServe();
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const bad = await fetch(`${url}/%E0`);
  expect(bad.status).toBe(400);
  const page = await fetch(`${url}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('wk_example');
  expect(exitCode).toBeUndefined();
});
