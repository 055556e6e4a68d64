import { randomUUID } from 'node:crypto';
import {
  linkSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { KimlikError } from '@kimlik/core';

const lockPath = (dir: string) => join(dir, 'LOCK');

/** The holder touches its LOCK this often, so processes that cannot check its PID see it alive. */
export const LOCK_HEARTBEAT_MS = 2000;
/**
 * A LOCK whose holder runs where its PID means nothing here (another container, another PID
 * namespace or machine) is taken over once it has not been touched for this long.
 */
export const LOCK_STALE_MS = 10_000;

/** What a LOCK holds (JSON); locks from before it hold `pid [start token]`. */
interface Holder {
  pid: number;
  /** The holder's start time (see `startTime`), or '-' where unknown. */
  start: string;
  token: string;
  /** Where `pid` means one process: boot id and PID namespace on Linux, else the hostname. */
  host: string;
  hostname: string;
  /** The holder's worker thread (0: the main thread); absent in locks from before it. */
  thread?: number;
}

/**
 * The locks held in this process, by LOCK path, with the token each holder wrote: on
 * `globalThis`, so two copies of the SDK loaded in one process (an ESM import and a require)
 * see each other's locks; a module-level map let both take one directory.
 */
const held = processWide<Map<string, string>>('kimlik.node.spool-locks', () => new Map());
/** This copy's heartbeats, by LOCK path. */
const heartbeats = new Map<string, NodeJS.Timeout>();

function processWide<T>(name: string, create: () => T): T {
  const slots = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(name);
  if (!(key in slots)) slots[key] = create();
  return slots[key] as T;
}

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

/**
 * Where a PID names one process: two containers on one host share the boot id but not the PID
 * namespace (both run PID 1), so the pair says whether the lock's PID can be checked from here.
 */
function hostKey(): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return `host:${hostname()}`;
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

function parseHolder(content: string): Holder | undefined {
  try {
    const h = JSON.parse(content) as Holder;
    return typeof h === 'object' && h !== null && typeof h.pid === 'number' && typeof h.host === 'string'
      ? h
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a holder that wrote `pid` and `start` runs on this host (PID namespace) now. */
function runsHere(pid: number, start: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  const now = start === undefined || start === '-' ? undefined : startTime(pid);
  // A start time that differs from the live process's means the PID was reused.
  return now === undefined || now === start;
}

/**
 * Whether the holder that wrote `content` is alive: 'unknown' when it runs where its PID cannot
 * be checked from here, and then only its heartbeat tells.
 */
function holderState(
  content: string,
  ownHost: string,
  ownStart: string,
  heartbeatAge: () => number,
): 'alive' | 'dead' | 'unknown' {
  const h = parseHolder(content);
  if (!h) {
    // Written by an older version (`pid start token`), which assumed one PID namespace: a lock
    // naming this PID that this process did not take is an earlier process's.
    const [pidText, start] = content.trim().split(' ');
    const pid = Number(pidText);
    return pid !== process.pid && runsHere(pid, start) ? 'alive' : 'dead';
  }
  if (h.host !== ownHost) return 'unknown';
  if (h.pid !== process.pid) return runsHere(h.pid, h.start) ? 'alive' : 'dead';
  // This PID: an earlier process had it (another start), or it is this process, where a copy of
  // the SDK that holds the lock registered the token.
  if (h.start !== ownStart) return 'dead';
  for (const token of held.values()) if (token === h.token) return 'alive';
  // Another thread's (each thread has its own registry, and none can see another's): alive while
  // its heartbeat is, as a thread ended without releasing leaves its LOCK untouched.
  if (h.thread !== undefined && h.thread !== threadId) return heartbeatAge() <= LOCK_STALE_MS ? 'alive' : 'dead';
  return 'dead';
}

const locked = (dir: string, holder: string) =>
  new KimlikError(
    'KIMLIK_SPOOL_LOCKED',
    `spool directory ${dir} is in use by ${holder}; give each process (container, replica) its own spool.dir`,
  );

function describeHolder(content: string): string {
  const h = parseHolder(content);
  if (!h) return `process ${content.trim().split(' ')[0]}`;
  if (h.pid === process.pid && h.host === hostKey())
    return h.thread !== undefined && h.thread !== threadId
      ? `process ${process.pid} (another thread of this process, thread ${h.thread}: one client per spool dir; a thread ended without shutdown() leaves it for ${LOCK_STALE_MS / 1000} s)`
      : `process ${process.pid} (this process: one client per spool dir)`;
  return `process ${h.pid} on ${h.hostname}`;
}

/** Blocks this thread for `ms` (the lock is taken in a constructor, synchronously). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A takeover left by a process that died in its middle (microseconds long) is this old at most. */
const STALE_TAKEOVER_MS = 5000;

/** The LOCK's path, one per directory however `dir` is spelled (copies of the SDK share `held`). */
function keyOf(dir: string): string {
  try {
    return lockPath(realpathSync(dir));
  } catch {
    return lockPath(resolve(dir));
  }
}

/**
 * One process per spool directory: two writers would resend each other's events, and one's
 * shutdown would delete the files the other still writes. The LOCK names its holder (PID, start
 * time, a random token, boot id and PID namespace); the holder touches it every
 * `LOCK_HEARTBEAT_MS`. It is taken over only from a holder that is provably gone: on this host
 * (same boot, same PID namespace) its PID is gone or names another process; elsewhere (another
 * container on the volume, where PIDs mean nothing here) its heartbeat is older than
 * `LOCK_STALE_MS` — waited for here, as a container restarted after a crash starts before that.
 * The lock is only ever created whole and exclusively (linked into place); removing a dead
 * holder's lock needs a second exclusive file, `LOCK.takeover`, so of processes started together
 * on a stale lock one removes it and one creates the new lock.
 *
 * `onLost` is told if another process takes the lock over anyway (a holder whose event loop was
 * blocked past `LOCK_STALE_MS`).
 */
export function acquireLock(dir: string, onLost?: (holder: string) => void): void {
  const path = lockPath(dir);
  const key = keyOf(dir);
  const takeover = `${path}.takeover`;
  if (held.has(key)) throw locked(dir, `process ${process.pid} (this process: one client per spool dir)`);
  const ownHost = hostKey();
  const ownStart = startTime(process.pid) ?? '-';
  const holder: Holder = {
    pid: process.pid,
    start: ownStart,
    token: randomUUID(),
    host: ownHost,
    hostname: hostname(),
    thread: threadId,
  };
  const content = JSON.stringify(holder);
  const waitUntil = Date.now() + LOCK_STALE_MS + LOCK_HEARTBEAT_MS;
  let watched: { content: string; mtime: number } | undefined;
  for (let attempt = 0; attempt < 400 || Date.now() < waitUntil; attempt++) {
    if (createWhole(path, content)) {
      held.set(key, holder.token);
      heartbeats.set(key, heartbeat(path, content, onLost));
      return;
    }
    const seen = readIfThere(path);
    if (seen === undefined) continue;
    const state = holderState(seen, ownHost, ownStart, () => Date.now() - mtimeOf(path));
    if (state === 'alive') throw locked(dir, describeHolder(seen));
    if (state === 'unknown') {
      const mtime = mtimeOf(path);
      // Touched while watched: its holder is alive.
      if (watched?.content === seen && mtime !== watched.mtime)
        throw locked(dir, `${describeHolder(seen)} (its LOCK is touched as it runs)`);
      if (watched?.content !== seen) watched = { content: seen, mtime };
      if (Date.now() - mtime <= LOCK_STALE_MS) {
        pause(100);
        continue;
      }
    }
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

/** Touches the LOCK every `LOCK_HEARTBEAT_MS` while it is still ours; tells `onLost` once if not. */
function heartbeat(path: string, content: string, onLost: ((holder: string) => void) | undefined): NodeJS.Timeout {
  const timer = setInterval(() => {
    const seen = readIfThere(path);
    if (seen !== content) {
      clearInterval(timer);
      onLost?.(seen === undefined ? 'no one (its LOCK was deleted)' : describeHolder(seen));
      return;
    }
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch (err) {
      onLost?.(`no one: touching its LOCK failed (${(err as Error).message})`);
    }
  }, LOCK_HEARTBEAT_MS);
  // A heartbeat must not keep the process alive; a process that ends releases or leaves the lock.
  timer.unref();
  return timer;
}

/** Whether this process still holds the lock of `dir` (no one took it over). */
export function holdsLock(dir: string): boolean {
  const token = held.get(keyOf(dir));
  const seen = readIfThere(lockPath(dir));
  return token !== undefined && seen !== undefined && parseHolder(seen)?.token === token;
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

/** Gives the lock back; a lock another process took over meanwhile is left to it. */
export function releaseLock(dir: string): void {
  const key = keyOf(dir);
  const owned = holdsLock(dir);
  clearInterval(heartbeats.get(key));
  heartbeats.delete(key);
  held.delete(key);
  if (owned) unlinkSync(lockPath(dir));
}
