import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, LOCK_STALE_MS, releaseLock } from './lock.js';

// The spool's LOCK file: one process per directory, and a lock whose holder is gone taken over,
// whatever PID the next process happens to get.

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'kimlik-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const LOCK_MODULE = new URL('../../dist/spool/lock.js', import.meta.url).href;

/**
 * Child processes, each ready to try the lock: `go()` has them all try at once (as processes a
 * supervisor starts together) and answers what each got; they hold it until `end()`.
 */
async function contenders(d: string, n: number, options: { ownPidNamespace?: boolean } = {}) {
  const script = `import { acquireLock } from '${LOCK_MODULE}';
process.stdin.on('data', () => {
  try { acquireLock(${JSON.stringify(d)}); process.stdout.write('got'); } catch (e) { process.stdout.write(e.code ?? String(e)); }
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write('ready');`;
  const node = [process.execPath, '--input-type=module', '-e', script];
  // As a container: a PID namespace of its own, where node is PID 1 (and so is every other one's).
  // --kill-child: SIGKILL to unshare reaches node (PID 1 ignores signals sent from inside its namespace).
  const command = options.ownPidNamespace
    ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...node]
    : node;
  const children = Array.from({ length: n }, () => {
    const child = spawn(command[0] as string, command.slice(1), {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const said: string[] = [];
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (c: Buffer) => {
      said.push(c.toString());
      for (const w of waiters.splice(0)) w();
    });
    const saying = async (count: number) => {
      while (said.length < count) await new Promise<void>((r) => waiters.push(r));
      return said[count - 1] as string;
    };
    const exited = new Promise((r) => child.once('exit', r));
    return { child, saying, exited };
  });
  await Promise.all(children.map((c) => c.saying(1)));
  return {
    go: () => {
      for (const c of children) c.child.stdin.write('go');
      return Promise.all(children.map((c) => c.saying(2)));
    },
    /** SIGKILL, as a crash or an OOM kill: the lock stays behind. */
    die: async () => {
      for (const c of children) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    },
    end: async () => {
      for (const c of children) c.child.stdin.end();
      await Promise.all(children.map((c) => c.exited));
    },
  };
}

describe('spool lock', () => {
  it('a second client on the same directory in this process is refused', () => {
    const d = dir();
    acquireLock(d);
    expect(() => acquireLock(d)).toThrow(/this process/);
    releaseLock(d);
    acquireLock(d);
    releaseLock(d);
  });

  it('a live process holding the lock keeps it', async () => {
    const d = dir();
    const holder = await contenders(d, 1);
    const other = await contenders(d, 1);
    try {
      expect(await holder.go()).toEqual(['got']);
      expect(await other.go()).toEqual(['KIMLIK_SPOOL_LOCKED']);
    } finally {
      await Promise.all([holder.end(), other.end()]);
    }
  });

  it('a lock left by a process with this PID before (a container restarted as PID 1) is taken over', () => {
    const d = dir();
    // Written by an earlier process that had this PID (this process holds no lock there).
    writeFileSync(join(d, 'LOCK'), String(process.pid));
    acquireLock(d);
    expect(readFileSync(join(d, 'LOCK'), 'utf8')).not.toBe(String(process.pid));
    releaseLock(d);
  });

  it('a lock whose PID now belongs to another live process (reused) is taken over', () => {
    const d = dir();
    // The parent process is alive, but it is not the process that wrote this lock: that one
    // started at another time (the lock names its start, as /proc reports it).
    writeFileSync(join(d, 'LOCK'), `${process.ppid} 1 a-dead-run`);
    acquireLock(d);
    releaseLock(d);
    // Where the start time cannot be told, a live PID keeps its lock.
    writeFileSync(join(d, 'LOCK'), String(process.ppid));
    expect(() => acquireLock(d)).toThrow(/in use by process/);
  });

  it('of processes taking over a dead holder’s lock at once, exactly one gets it', async () => {
    for (let round = 0; round < 4; round++) {
      const d = dir();
      writeFileSync(join(d, 'LOCK'), '999999999');
      const six = await contenders(d, 6);
      const answers = await six.go();
      await six.end();
      expect(
        answers.filter((a) => a === 'got'),
        answers.join(','),
      ).toHaveLength(1);
    }
  });

  it('a second copy of the SDK in this process (import and require) is refused, and given the lock once the first releases it', async () => {
    const d = dir();
    // Two module instances of the lock, as an ESM import and a createRequire() of the CJS build load.
    const script = `const one = await import('${LOCK_MODULE}');
const two = await import('${LOCK_MODULE}?second-copy');
const d = ${JSON.stringify(d)};
const attempt = (m) => { try { m.acquireLock(d); return 'got'; } catch (e) { return e.code; } };
const said = [attempt(one), attempt(two)];
one.releaseLock(d);
said.push(attempt(two));
two.releaseLock(d);
process.stdout.write(said.join(','));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('got,KIMLIK_SPOOL_LOCKED,got');
  });

  it('a client in a worker thread is refused the lock this thread holds, and the other way round', async () => {
    const d = dir();
    // Each thread has its own globalThis, so its own registry of held locks: the LOCK tells.
    const inWorker = (release: boolean) =>
      new Promise<string>((resolve, reject) => {
        const worker = new Worker(
          `import('${LOCK_MODULE}').then((m) => {
  const d = ${JSON.stringify(d)};
  let said;
  try { m.acquireLock(d); said = 'got'; } catch (e) { said = e.code; }
  if (said === 'got' && ${release}) m.releaseLock(d);
  require('node:worker_threads').parentPort.postMessage(said);
});`,
          { eval: true },
        );
        worker.once('message', (said: string) => {
          resolve(said);
          void worker.terminate();
        });
        worker.once('error', reject);
      });
    acquireLock(d);
    expect(await inWorker(true)).toBe('KIMLIK_SPOOL_LOCKED');
    releaseLock(d);
    // A worker ended without releasing (terminated mid-run) leaves its LOCK, heartbeat stopped.
    expect(await inWorker(false)).toBe('got');
    expect(() => acquireLock(d)).toThrow(/another thread of this process/);
    const stale = new Date(Date.now() - LOCK_STALE_MS - 1000);
    utimesSync(join(d, 'LOCK'), stale, stale);
    acquireLock(d);
    releaseLock(d);
  });
});

/**
 * Two containers on one volume are both PID 1, each in a PID namespace of its own. `unshare`
 * makes one as root (CI runs as root on the same kind of machine): nothing here is skipped in CI.
 */
const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
if (!canUnshare && process.env.CI === 'true') {
  throw new Error('lock.test.ts needs `unshare --pid --fork --mount-proc` (util-linux, run as root) in CI');
}

describe.skipIf(!canUnshare)('spool lock across PID namespaces (needs unshare --pid as root)', () => {
  it('a live holder in another container keeps the lock, though both are PID 1', async () => {
    const d = dir();
    const holder = await contenders(d, 1, { ownPidNamespace: true });
    const other = await contenders(d, 1, { ownPidNamespace: true });
    try {
      expect(await holder.go()).toEqual(['got']);
      expect(await other.go()).toEqual(['KIMLIK_SPOOL_LOCKED']);
    } finally {
      await Promise.all([holder.end(), other.end()]);
    }
  });

  it('a holder SIGKILLed in another container loses the lock once its heartbeat is stale', async () => {
    const d = dir();
    const holder = await contenders(d, 1, { ownPidNamespace: true });
    expect(await holder.go()).toEqual(['got']);
    await holder.die();
    const next = await contenders(d, 1, { ownPidNamespace: true });
    const started = Date.now();
    try {
      expect(await next.go()).toEqual(['got']);
      expect(Date.now() - started).toBeLessThan(LOCK_STALE_MS + 3000);
    } finally {
      await next.end();
    }
  }, 30_000);
});
