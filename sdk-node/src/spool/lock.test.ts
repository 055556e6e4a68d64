import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, releaseLock } from './lock.js';

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

/** Child processes that each try the lock at once, hold it (if they got it) for `holdMs`, and say which. */
async function contenders(d: string, n: number, holdMs: number): Promise<string[]> {
  // All try at the same moment (each waits for it), as processes a supervisor starts together.
  const at = Date.now() + 1500;
  const script = `import { acquireLock } from '${LOCK_MODULE}';
while (Date.now() < ${at});
try { acquireLock(${JSON.stringify(d)}); process.stdout.write('got'); } catch (e) { process.stdout.write(e.code ?? String(e)); }
setTimeout(() => {}, ${holdMs});`;
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<string>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (c: Buffer) => {
            out += c.toString();
          });
          child.once('exit', () => resolve(out));
        }),
    ),
  );
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
    const [holder, ...others] = await Promise.all([
      contenders(d, 1, 3000),
      (async () => {
        await new Promise((r) => setTimeout(r, 1000));
        return contenders(d, 1, 0);
      })(),
    ]);
    expect(holder).toEqual(['got']);
    expect(others[0]).toEqual(['KIMLIK_SPOOL_LOCKED']);
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
      const answers = await contenders(d, 6, 1500);
      expect(
        answers.filter((a) => a === 'got'),
        answers.join(','),
      ).toHaveLength(1);
    }
  });
});
