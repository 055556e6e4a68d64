import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  KimlikError,
  type Overflow,
  PagerOverflow,
  type PersistedEvent,
  type QueuePager,
  type QueueStorage,
} from '@kimlik/core';
import type { ResolvedSpoolOptions } from '../options.js';
import { type DecodedFrame, decodeFrames, encodeFrame, FRAME_KIND } from './frame.js';
import { acquireLock, holdsLock, LOCK_STALE_MS, releaseLock } from './lock.js';
import { OwnerIndex } from './owner-index.js';
import { SegmentReader, VISIT } from './segment-reader.js';

interface Segment {
  /** From the file name; what the owner index stores. */
  readonly number: number;
  readonly path: string;
  bytes: number;
  /** Events in this file not yet acknowledged, whether handed to the engine or still on disk only. */
  live: number;
  /** Event records written to this file. */
  events: number;
  /** Offsets of event records a restart found acknowledged (by a later file); paging skips them. */
  dead?: Set<number>;
}

const SEGMENT = /^seg-(\d{12})\.kspool$/;
const segmentName = (n: number) => `seg-${String(n).padStart(12, '0')}.kspool`;

/**
 * The Node SDK's durable queue, and the engine's overflow: append-only segment files in one directory.
 *
 * - Every event is written with `writeSync` before `track()` returns, so it is in the kernel's page
 *   cache and survives SIGKILL; `fdatasync` runs once per tick of appends (not per event) for
 *   power loss. `remove` appends an acknowledgement record.
 * - While the engine's memory is full it `spill`s events here only, and pages them back (`next`)
 *   oldest first: a cursor walks the files, reading a chunk at a time. Events before the cursor
 *   have been handed to the engine (`owner` knows their file); events after it are the `backlog`.
 *   A restart makes every unacknowledged event backlog, so it holds no more in memory than the
 *   engine's bounds, however long the outage was.
 * - A file is deleted once it and every older file hold no unacknowledged event (acks in a newer
 *   file may refer to events in an older one, so files go oldest first).
 * - Disk use: `spill` refuses events once the files reach `maxBytes` (the engine's queue-full rules
 *   then decide what is dropped, and report it). With no backlog, files above `maxBytes` have their few live events copied forward so a
 *   single stuck event cannot pin old files.
 */
export class DiskSpool implements QueueStorage, QueuePager {
  readonly persistent = true;
  /** The engine pages through this spool (`spill`, `next`, `backlog`). */
  overflow(): Overflow {
    return new PagerOverflow(this);
  }
  /** Unacknowledged events on disk that the engine does not hold. */
  backlog = 0;
  private readonly options: ResolvedSpoolOptions;
  private readonly warn: (message: string, error?: KimlikError) => void;
  private readonly segments: Segment[] = [];
  /** Events handed to the engine (bounded by its memory bounds) → number of the file holding them. */
  private readonly owner = new OwnerIndex();
  private readonly byNumber = new Map<number, Segment>();
  private readonly reader = new SegmentReader();
  private cursor: { segment: Segment; offset: number };
  private fd: number;
  private nextSegment = 1;
  private totalBytes = 0;
  private syncScheduled = false;
  private compacting = false;
  private fullWarned = false;
  private closed = false;
  /** Acknowledged events whose acknowledgement record could not be written (a full disk). */
  private unwrittenAcks: string[] = [];

  constructor(options: ResolvedSpoolOptions, warn: (message: string, error?: KimlikError) => void) {
    this.options = options;
    this.warn = warn;
    let locked = false;
    try {
      makeDirectory(options.dir);
      acquireLock(options.dir, (holder) =>
        this.warn(
          `spool ${options.dir}: its LOCK is now held by ${holder} (this process's event loop was blocked past ${LOCK_STALE_MS} ms?); two processes may now send its events`,
          new KimlikError('KIMLIK_SPOOL_LOCKED', `spool ${options.dir} lock lost to ${holder}`),
        ),
      );
      locked = true;
      this.readExisting();
      this.fd = this.openSegment();
    } catch (err) {
      throw unusable(options.dir, err, locked);
    }
    this.cursor = { segment: this.segments[0] as Segment, offset: 0 };
    this.syncCursor();
    this.collect();
  }

  /** Nothing: with a pager, the engine pages an earlier process's events in as `backlog`. */
  load(): readonly PersistedEvent[] {
    return [];
  }

  append(messageId: string, json: string): void {
    const active = this.write(FRAME_KIND.EVENT, `${messageId}\n${json}`);
    active.live++;
    active.events++;
    this.owner.set(messageId, active.number);
    this.syncCursor();
    this.afterWrite(active);
  }

  spill(messageId: string, json: string): boolean {
    if (this.totalBytes >= this.options.maxBytes) {
      if (!this.makeRoom()) return false;
    } else this.fullWarned = false;
    this.syncCursor();
    let active: Segment;
    try {
      active = this.write(FRAME_KIND.EVENT, `${messageId}\n${json}`);
    } catch (err) {
      // The engine drops the event (and reports that); a disk error must not throw into track().
      this.warn(`spool write failed: ${(err as Error).message}`, wrap(err as Error));
      return false;
    }
    active.live++;
    active.events++;
    this.backlog++;
    this.afterWrite(active);
    return true;
  }

  next(maxEvents: number, maxBytes: number): readonly PersistedEvent[] {
    const out: PersistedEvent[] = [];
    let bytes = 0;
    let full = false;
    while (this.backlog > 0 && out.length < maxEvents && !full) {
      const c = this.cursor;
      const i = this.segments.indexOf(c.segment);
      // Its file was deleted: it held nothing unacknowledged, so the backlog starts at the oldest file.
      if (i < 0) this.cursor = { segment: this.segments[0] as Segment, offset: 0 };
      else if (c.offset >= c.segment.bytes) {
        if (i === this.segments.length - 1) {
          // Counted at startup but unreadable now: nothing is left to hand over.
          this.warn(`spool ${this.options.dir}: ${this.backlog} events could not be read back`);
          this.backlog = 0;
          break;
        }
        this.cursor = { segment: this.segments[i + 1] as Segment, offset: 0 };
      } else {
        const segment = c.segment;
        c.offset = this.reader.scan(segment.path, c.offset, segment.bytes, (r) => {
          if (segment.dead?.delete(r.offset) || this.owner.get(r.messageId) >= 0) return VISIT.NEXT;
          if (out.length > 0 && bytes + r.jsonBytes > maxBytes) {
            full = true;
            return VISIT.STOP_BEFORE;
          }
          out.push({ messageId: r.messageId, json: r.json });
          bytes += r.jsonBytes;
          this.owner.set(r.messageId, segment.number);
          this.backlog--;
          return out.length < maxEvents && this.backlog > 0 ? VISIT.NEXT : VISIT.STOP_AFTER;
        });
      }
    }
    return out;
  }

  remove(messageIds: readonly string[]): void {
    if (this.closed || messageIds.length === 0) return;
    for (const id of messageIds) {
      const segment = this.byNumber.get(this.owner.delete(id));
      if (segment) segment.live--;
    }
    // Files left with no unacknowledged event go before the acknowledgement is written: they need
    // no record, and on a full disk (ENOSPC) that write fails until space comes back, which only
    // deleting them gives.
    this.collect();
    this.syncCursor();
    this.writeAcks(messageIds);
    this.syncCursor();
  }

  /**
   * Appends one acknowledgement record for `ids` and those whose record failed before: until it
   * is written, a restart would send them again (a crash meanwhile does; the collector stores each
   * messageId once).
   */
  private writeAcks(ids: readonly string[]): void {
    const all = this.unwrittenAcks.length > 0 ? this.unwrittenAcks.concat(ids) : ids;
    try {
      this.write(FRAME_KIND.ACK, all.join('\n'));
      this.unwrittenAcks = [];
    } catch (err) {
      this.unwrittenAcks = [...all];
      throw err;
    }
  }

  /** Events the spool would resend after a restart. */
  get liveEvents(): number {
    return this.owner.size + this.backlog;
  }

  get diskBytes(): number {
    return this.totalBytes;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    if (this.unwrittenAcks.length > 0 && this.liveEvents > 0) {
      try {
        this.writeAcks([]);
      } catch (err) {
        this.warn(
          `spool ${this.options.dir}: ${this.unwrittenAcks.length} acknowledged events could not be recorded (${(err as Error).message}); the next process sends them again`,
          wrap(err as Error),
        );
      }
    }
    if (this.options.fsync) fdatasyncSync(this.fd);
    closeSync(this.fd);
    // Files of a lock taken over are the new holder's to delete: it may be writing them.
    if (!holdsLock(this.options.dir)) this.warn(`spool ${this.options.dir}: lock lost; its files are left as they are`);
    else if (this.liveEvents === 0) {
      for (const s of this.segments.splice(0)) unlinkSync(s.path);
      this.byNumber.clear();
    } else {
      const active = this.segments[this.segments.length - 1] as Segment;
      if (active.bytes === 0) unlinkSync((this.segments.pop() as Segment).path);
    }
    releaseLock(this.options.dir);
  }

  /**
   * Finds the unacknowledged events, newest file first: an acknowledgement always follows its
   * event, so the set of acks not yet matched stays about as small as the engine's window, and
   * no event's JSON is kept (paging reads it again when its turn comes).
   */
  private readExisting(): void {
    const names = readdirSync(this.options.dir)
      .filter((n) => SEGMENT.test(n))
      .sort();
    for (const name of names) {
      const number = Number(SEGMENT.exec(name)?.[1]);
      this.nextSegment = Math.max(this.nextSegment, number + 1);
      this.addSegment({ number, path: join(this.options.dir, name), bytes: 0, live: 0, events: 0 });
    }
    const acked = new Set<string>();
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i] as Segment;
      const buf = readFileSync(segment.path);
      segment.bytes = buf.length;
      this.totalBytes += buf.length;
      const { frames, damaged } = decodeFrames(buf);
      for (const d of damaged) {
        this.warn(
          `spool segment ${segment.path}: skipped ${d.bytes} damaged bytes at offset ${d.offset} (a record cut short by a crash, or corrupt); the intact events are kept`,
        );
      }
      for (let j = frames.length - 1; j >= 0; j--) {
        const f = frames[j] as DecodedFrame;
        if (f.kind === FRAME_KIND.ACK) {
          for (const id of f.payload.split('\n')) acked.add(id);
          continue;
        }
        const nl = f.payload.indexOf('\n');
        if (nl <= 0) continue;
        segment.events++;
        if (acked.delete(f.payload.slice(0, nl))) {
          segment.dead ??= new Set();
          segment.dead.add(f.offset);
        } else {
          segment.live++;
          this.backlog++;
        }
      }
    }
  }

  private openSegment(): number {
    const number = this.nextSegment++;
    const path = join(this.options.dir, segmentName(number));
    const fd = openSync(path, 'a');
    this.addSegment({ number, path, bytes: 0, live: 0, events: 0 });
    return fd;
  }

  private addSegment(segment: Segment): void {
    this.segments.push(segment);
    this.byNumber.set(segment.number, segment);
  }

  private write(kind: (typeof FRAME_KIND)[keyof typeof FRAME_KIND], payload: string): Segment {
    const frame = encodeFrame(kind, payload);
    const active = this.segments[this.segments.length - 1] as Segment;
    let written = 0;
    try {
      while (written < frame.length) written += writeSync(this.fd, frame, written);
    } finally {
      // A record cut short by a full disk is on disk too: readers skip it as damaged, offsets stay true.
      active.bytes += written;
      this.totalBytes += written;
    }
    return active;
  }

  /** With no backlog, everything written so far is handed over or acknowledged: paging starts at the end. */
  private syncCursor(): void {
    if (this.backlog > 0) return;
    const active = this.segments[this.segments.length - 1] as Segment;
    this.cursor = { segment: active, offset: active.bytes };
  }

  private afterWrite(active: Segment): void {
    this.scheduleSync();
    if (active.bytes >= this.options.segmentBytes) this.rotate();
  }

  private scheduleSync(): void {
    if (!this.options.fsync || this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      if (this.closed) return;
      fdatasync(this.fd, (err) => {
        // A rotation may close the fd while this sync is queued; it synced that file itself.
        if (err && err.code !== 'EBADF') this.warn(`spool fdatasync failed: ${err.message}`, wrap(err));
      });
    }).unref();
  }

  private rotate(): void {
    const full = this.fd;
    this.fd = this.openSegment();
    // The full file reaches the disk on the threadpool while track() goes on into the new one.
    if (this.options.fsync) {
      fdatasync(full, (err) => {
        if (err) this.warn(`spool fdatasync failed: ${err.message}`, wrap(err));
        closeSync(full);
      });
    } else closeSync(full);
    this.syncCursor();
    this.collect();
    if (this.totalBytes > this.options.maxBytes) this.compact();
  }

  /** Deletes files from the oldest while they hold no unacknowledged event. */
  private collect(): void {
    while (this.segments.length > 1 && (this.segments[0] as Segment).live === 0) {
      const s = this.segments.shift() as Segment;
      this.byNumber.delete(s.number);
      if (this.cursor.segment === s) this.reader.close();
      unlinkSync(s.path);
      this.totalBytes -= s.bytes;
    }
  }

  /** Whether a spilled event may still be written at `maxBytes`; warns once each time the spool fills up. */
  private makeRoom(): boolean {
    this.compact();
    if (this.totalBytes < this.options.maxBytes) return true;
    if (!this.fullWarned) {
      this.fullWarned = true;
      this.warn(
        `spool ${this.options.dir} is full (${this.totalBytes} bytes, spool.maxBytes ${this.options.maxBytes}) with ${this.liveEvents} unacknowledged events: new events are dropped until the collector catches up; raise spool.maxBytes for longer outages`,
      );
    }
    return false;
  }

  /**
   * Copies the live events of mostly-acknowledged old files forward, then deletes those files.
   * Only with no backlog: then every live event is one the engine holds, and copies land
   * behind the paging cursor, never to be paged in twice.
   */
  private compact(): void {
    if (this.compacting || this.backlog > 0) return;
    this.compacting = true;
    try {
      while (this.totalBytes > this.options.maxBytes && this.segments.length > 2) {
        const oldest = this.segments[0] as Segment;
        if (oldest.live * 2 > oldest.events) break;
        const { frames } = decodeFrames(readFileSync(oldest.path));
        for (const f of frames) {
          if (f.kind !== FRAME_KIND.EVENT) continue;
          const nl = f.payload.indexOf('\n');
          const id = f.payload.slice(0, nl);
          if (this.owner.get(id) !== oldest.number) continue;
          oldest.live--;
          this.append(id, f.payload.slice(nl + 1));
        }
        this.collect();
      }
    } finally {
      this.compacting = false;
    }
  }
}

/**
 * `mkdir -p`. Node's recursive mkdir answers ENOENT where the parent exists on a read-only file
 * system; the plain mkdir it falls back to names the real cause (EROFS).
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir);
  }
}

const UNUSABLE_BECAUSE: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'the path is a file, not a directory',
  EROFS: 'the file system is read-only',
  EACCES: 'this process may not write there',
  EPERM: 'this process may not write there',
  ENOSPC: 'the disk is full',
};

/**
 * What the constructor throws when the directory cannot hold a spool: a `KimlikError`
 * (`KIMLIK_SPOOL_UNUSABLE`) naming the directory and the cause, not a bare `fs` error. A lock
 * taken before the failure is given back, so a later attempt in this process is not refused.
 */
function unusable(dir: string, err: unknown, locked: boolean): KimlikError {
  if (err instanceof KimlikError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  let released = '';
  if (locked) {
    try {
      releaseLock(dir);
    } catch (releaseErr) {
      released = `; its LOCK could not be removed either (${(releaseErr as Error).message})`;
    }
  }
  const why = (code && UNUSABLE_BECAUSE[code]) ?? (err as Error)?.message ?? String(err);
  return new KimlikError(
    'KIMLIK_SPOOL_UNUSABLE',
    `spool directory ${dir} cannot be used: ${why}${code ? ` (${code})` : ''}${released}; set spool.dir to a writable directory on a persistent volume`,
    { cause: err },
  );
}

function wrap(err: Error): KimlikError {
  return new KimlikError('KIMLIK_SPOOL_IO', err.message, { cause: err });
}
