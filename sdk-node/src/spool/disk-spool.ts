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
import { KimlikError, type PersistedEvent, type QueueStorage } from '@kimlik/core';
import type { ResolvedSpoolOptions } from '../options.js';
import { decodeFrames, encodeFrame, FRAME_KIND } from './frame.js';
import { acquireLock, releaseLock } from './lock.js';

interface Segment {
  readonly path: string;
  bytes: number;
  /** Events in this file not yet acknowledged. */
  live: number;
  /** Event records written to this file. */
  events: number;
}

const SEGMENT = /^seg-(\d{12})\.kspool$/;
const segmentName = (n: number) => `seg-${String(n).padStart(12, '0')}.kspool`;

/**
 * The Node SDK's durable queue: append-only segment files in one directory.
 *
 * - `append` writes an event record with `writeSync` before `track()` returns, so the event is in
 *   the kernel's page cache and survives SIGKILL; `fdatasync` runs once per tick of appends (not
 *   per event) for power loss.
 * - `remove` appends an acknowledgement record; a restart resends only events without one.
 * - A segment file is deleted once it and every older file hold no unacknowledged event (acks
 *   in a newer file may refer to events in an older one, so files go oldest first).
 * - Disk use: live events are bounded by the engine's queue bounds; acknowledged space is freed
 *   by deleting files, and above `maxBytes` the oldest file's live events are copied forward so
 *   a single stuck event cannot pin old files.
 */
export class DiskSpool implements QueueStorage {
  readonly persistent = true;
  private readonly options: ResolvedSpoolOptions;
  private readonly warn: (message: string, error?: KimlikError) => void;
  private readonly segments: Segment[] = [];
  private readonly owner = new Map<string, Segment>();
  private restored: PersistedEvent[] = [];
  private fd: number;
  private nextSegment = 1;
  private totalBytes = 0;
  private syncScheduled = false;
  private compacting = false;
  private overLimitWarned = false;
  private closed = false;

  constructor(options: ResolvedSpoolOptions, warn: (message: string, error?: KimlikError) => void) {
    this.options = options;
    this.warn = warn;
    mkdirSync(options.dir, { recursive: true });
    acquireLock(options.dir);
    this.readExisting();
    this.fd = this.openSegment();
    this.collect();
  }

  /** Unacknowledged events found at startup, oldest first (handed over once). */
  load(): readonly PersistedEvent[] {
    const events = this.restored;
    this.restored = [];
    return events;
  }

  append(messageId: string, json: string): void {
    const active = this.write(FRAME_KIND.EVENT, `${messageId}\n${json}`);
    active.live++;
    active.events++;
    const previous = this.owner.get(messageId);
    if (previous) previous.live--;
    this.owner.set(messageId, active);
    this.scheduleSync();
    if (active.bytes >= this.options.segmentBytes) this.rotate();
  }

  remove(messageIds: readonly string[]): void {
    if (this.closed || messageIds.length === 0) return;
    this.write(FRAME_KIND.ACK, messageIds.join('\n'));
    for (const id of messageIds) {
      const segment = this.owner.get(id);
      if (!segment) continue;
      segment.live--;
      this.owner.delete(id);
    }
    this.collect();
  }

  /** Events the spool would resend after a restart. */
  get liveEvents(): number {
    return this.owner.size;
  }

  get diskBytes(): number {
    return this.totalBytes;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.options.fsync) fdatasyncSync(this.fd);
    closeSync(this.fd);
    if (this.owner.size === 0) {
      for (const s of this.segments.splice(0)) unlinkSync(s.path);
    } else {
      const active = this.segments[this.segments.length - 1] as Segment;
      if (active.bytes === 0) unlinkSync((this.segments.pop() as Segment).path);
    }
    releaseLock(this.options.dir);
  }

  private readExisting(): void {
    const names = readdirSync(this.options.dir)
      .filter((n) => SEGMENT.test(n))
      .sort();
    const live = new Map<string, { json: string; segment: Segment }>();
    for (const name of names) {
      const path = join(this.options.dir, name);
      this.nextSegment = Math.max(this.nextSegment, Number(SEGMENT.exec(name)?.[1]) + 1);
      const buf = readFileSync(path);
      const segment: Segment = { path, bytes: buf.length, live: 0, events: 0 };
      this.segments.push(segment);
      this.totalBytes += buf.length;
      const { frames, damaged } = decodeFrames(buf);
      for (const d of damaged) {
        this.warn(
          `spool segment ${path}: skipped ${d.bytes} damaged bytes at offset ${d.offset} (a record cut short by a crash, or corrupt); the intact events are kept`,
        );
      }
      for (const f of frames) {
        if (f.kind === FRAME_KIND.EVENT) {
          const nl = f.payload.indexOf('\n');
          if (nl <= 0) continue;
          const id = f.payload.slice(0, nl);
          const existing = live.get(id);
          if (existing) existing.segment = segment;
          else live.set(id, { json: f.payload.slice(nl + 1), segment });
          segment.events++;
        } else {
          for (const id of f.payload.split('\n')) live.delete(id);
        }
      }
    }
    for (const [messageId, { json, segment }] of live) {
      segment.live++;
      this.owner.set(messageId, segment);
      this.restored.push({ messageId, json });
    }
  }

  private openSegment(): number {
    const path = join(this.options.dir, segmentName(this.nextSegment++));
    const fd = openSync(path, 'a');
    this.segments.push({ path, bytes: 0, live: 0, events: 0 });
    return fd;
  }

  private write(kind: (typeof FRAME_KIND)[keyof typeof FRAME_KIND], payload: string): Segment {
    const frame = encodeFrame(kind, payload);
    let written = 0;
    while (written < frame.length) written += writeSync(this.fd, frame, written);
    const active = this.segments[this.segments.length - 1] as Segment;
    active.bytes += frame.length;
    this.totalBytes += frame.length;
    return active;
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
    if (this.options.fsync) fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.fd = this.openSegment();
    this.collect();
    if (this.totalBytes > this.options.maxBytes) this.compact();
  }

  /** Deletes files from the oldest while they hold no unacknowledged event. */
  private collect(): void {
    while (this.segments.length > 1 && (this.segments[0] as Segment).live === 0) {
      const s = this.segments.shift() as Segment;
      unlinkSync(s.path);
      this.totalBytes -= s.bytes;
    }
  }

  /** Copies the live events of mostly-acknowledged old files forward, then deletes those files. */
  private compact(): void {
    if (this.compacting) return;
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
          if (this.owner.get(id) === oldest) this.append(id, f.payload.slice(nl + 1));
        }
        this.collect();
      }
      if (this.totalBytes > this.options.maxBytes && !this.overLimitWarned) {
        this.overLimitWarned = true;
        this.warn(
          `spool ${this.options.dir} uses ${this.totalBytes} bytes, over spool.maxBytes (${this.options.maxBytes}), with ${this.owner.size} unacknowledged events; lower maxQueueBytes or raise spool.maxBytes`,
        );
      }
    } finally {
      this.compacting = false;
    }
  }
}

function wrap(err: Error): KimlikError {
  return new KimlikError('KIMLIK_SPOOL_IO', err.message, { cause: err });
}
