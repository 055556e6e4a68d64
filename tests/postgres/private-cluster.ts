import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throw-away PostgreSQL cluster of this test's own, so it can be stopped and restarted without
 * disturbing the shared test database other suites use at the same time. Needs the PostgreSQL
 * server binaries (Debian: /usr/lib/postgresql/<version>/bin); as root it runs as `postgres`.
 */
export interface PrivateCluster {
  url: string;
  start(): void;
  /** `immediate`: like a crash (no shutdown checkpoint); the next start replays the WAL. */
  stop(mode?: 'fast' | 'immediate'): void;
  destroy(): void;
}

export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version ? join(root, version, 'bin') : undefined;
}

/** A port the kernel just handed out (listening on 0, then closing): one ask, no probing. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin');
  const dir = mkdtempSync(join(tmpdir(), 'kimlik-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // PostgreSQL refuses to run as root.
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string) =>
    asRoot
      ? execFileSync('su', ['postgres', '-c', cmd], { stdio: 'pipe' })
      : execFileSync('sh', ['-c', cmd], { stdio: 'pipe' });
  run(`${bin}/initdb -D ${data} -A trust -U kimlik --no-sync >/dev/null`);
  const port = await freePort();
  const cluster: PrivateCluster = {
    url: `postgres://kimlik@127.0.0.1:${port}/postgres`,
    start: () =>
      run(
        `${bin}/pg_ctl -D ${data} -l ${dir}/log -w -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1" start >/dev/null`,
      ),
    stop: (mode = 'fast') => run(`${bin}/pg_ctl -D ${data} -m ${mode} -w stop >/dev/null`),
    destroy: () => {
      try {
        cluster.stop('immediate');
      } catch (err) {
        // Already stopped (the test failed while it was down): only the files are left to remove.
        if (!String((err as Error).message).includes('pg_ctl')) throw err;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  return cluster;
}
