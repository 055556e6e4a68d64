import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KimlikError } from '@kimlik/core';

const lockPath = (dir: string) => join(dir, 'LOCK');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per spool directory: two writers would resend each other's events. A lock left
 * by a process that died (SIGKILL, crash) is taken over, which is what a restart needs.
 */
export function acquireLock(dir: string): void {
  const path = lockPath(dir);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = Number(readFileSync(path, 'utf8').trim());
  if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
    throw new KimlikError(
      'KIMLIK_SPOOL_LOCKED',
      `spool directory ${dir} is in use by process ${holder}${holder === process.pid ? ' (this process: one client per spool dir)' : ''}; give each process its own spool.dir`,
    );
  }
  writeFileSync(path, String(process.pid));
}

export function releaseLock(dir: string): void {
  unlinkSync(lockPath(dir));
}
