// Starts the built collector as a child process on 127.0.0.1 and a fresh port for a benchmark.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BENCH_WRITE_KEY = 'wk_bench_write_key';
export const BENCH_ADMIN_KEY = 'ak_bench_admin_key';
export const benchAuth = `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`;

export function startCollector(env) {
  const bin = fileURLToPath(new URL('../../collector/dist/bin/kimlik-collector.js', import.meta.url));
  const child = spawn(process.execPath, [bin], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      KIMLIK_WRITE_KEY: BENCH_WRITE_KEY,
      KIMLIK_ADMIN_KEY: BENCH_ADMIN_KEY,
      KIMLIK_LOG_LEVEL: 'info',
      KIMLIK_DEMO: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // A benchmark that fails or is killed must not leave its collector running (and holding the terminal's pipe).
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  child.once('exit', () => process.off('exit', orphanGuard));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m)
        resolve({
          child,
          url: m[1],
          stop: () =>
            new Promise((r) => {
              child.once('exit', r);
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`collector exited ${code} (run npm run build first): ${out}`)));
  });
}

/**
 * Milliseconds until the collector has applied identity to every acknowledged event: a profile
 * read waits for that (the SQLite writer applies identity in batches after the commit), so
 * benchmarks add this to their elapsed time instead of counting events as done before they are.
 */
export async function identityCatchUpMs(url) {
  const t = performance.now();
  const res = await fetch(`${url}/v1/profiles?userId=bench-catch-up-probe`, {
    headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` },
  });
  await res.arrayBuffer();
  // 404 (no such profile) or 409 (identity off) are answers too; only a failure is not.
  if (res.status >= 500) throw new Error(`catch-up probe answered ${res.status}`);
  return performance.now() - t;
}
