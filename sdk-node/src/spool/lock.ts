import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KimlikError } from '@kimlik/core';

const lockPath = (dir: string) => join(dir, 'LOCK');

/** The locks this process holds, by path, with what it wrote in them. */
const held = new Map<string, string>();

/**
 * When process `pid` started, as Linux reports it (clock ticks since boot, /proc/<pid>/stat field
 * 22): with the PID it names one process for good, though PIDs are reused. Undefined elsewhere.
 */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces and parentheses: field 3 onwards.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

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
 * Whether the process that wrote `content` (`pid start token`; older versions wrote the PID
 * alone) still runs. A lock naming this process's PID that this process did not take is an
 * earlier process's: a container restarted after a SIGKILL runs as PID 1 again. A start time that
 * differs from the live process's means the PID was reused.
 */
function holderAlive(content: string): boolean {
  const [pidText, start] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) return false;
  const now = start === undefined ? undefined : startTime(pid);
  return now === undefined || now === start;
}

const locked = (dir: string, holder: string, self: boolean) =>
  new KimlikError(
    'KIMLIK_SPOOL_LOCKED',
    `spool directory ${dir} is in use by process ${holder.split(' ')[0]}${self ? ' (this process: one client per spool dir)' : ''}; give each process its own spool.dir`,
  );

/** Blocks this thread for `ms` (the lock is taken in a constructor, synchronously). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A takeover left by a process that died in its middle (microseconds long) is this old at most. */
const STALE_TAKEOVER_MS = 5000;

/**
 * One process per spool directory: two writers would resend each other's events. A lock left
 * by a process that is gone (SIGKILL, crash) is taken over, which is what a restart needs. The
 * lock is only ever created whole and exclusively (linked into place); removing a dead holder's lock needs a second
 * exclusive file, `LOCK.takeover`, so of processes started together on a stale lock one removes
 * it and one creates the new lock (measured before: two of them both held it in half the runs).
 */
export function acquireLock(dir: string): void {
  const path = lockPath(dir);
  const takeover = `${path}.takeover`;
  const mine = held.get(path);
  if (mine !== undefined) throw locked(dir, mine, true);
  const content = `${process.pid} ${startTime(process.pid) ?? '-'} ${randomUUID()}`;
  for (let attempt = 0; attempt < 400; attempt++) {
    if (createWhole(path, content)) {
      held.set(path, content);
      return;
    }
    const seen = readIfThere(path);
    if (seen === undefined) continue;
    if (holderAlive(seen)) throw locked(dir, seen, false);
    try {
      writeFileSync(takeover, content, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process is taking it over: wait for it (or for a takeover that died to age).
      if (Date.now() - mtimeOf(takeover) > STALE_TAKEOVER_MS) unlinkIfThere(takeover);
      pause(5);
      continue;
    }
    try {
      // Under the takeover no one else removes the lock, and only a dead holder's is removed.
      if (readIfThere(path) === seen) unlinkIfThere(path);
    } finally {
      unlinkIfThere(takeover);
    }
  }
  throw new KimlikError('KIMLIK_SPOOL_LOCKED', `spool directory ${dir}: could not take its lock over; retry`);
}

/**
 * Creates `path` holding `content` unless it exists. Written aside and linked into place: a file
 * created with `wx` is empty until written, and another process reading it then took an empty
 * lock for a dead one's (two holders, in a test of six processes started together).
 */
function createWhole(path: string, content: string): boolean {
  const aside = `${path}.${randomUUID()}`;
  writeFileSync(aside, content);
  try {
    linkSync(aside, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    unlinkIfThere(aside);
  }
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

export function releaseLock(dir: string): void {
  const path = lockPath(dir);
  held.delete(path);
  unlinkSync(path);
}
