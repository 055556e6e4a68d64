import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small filesystem of its own (tmpfs) that a test can fill up: a real "disk full" (ENOSPC). */
export interface SmallDisk {
  path: string;
  /** Writes a file until the filesystem is full, then gives back `leaveBytes` of it. */
  fill(leaveBytes?: number): void;
  /** Removes that file. */
  free(): void;
  unmount(): void;
}

/**
 * Mounting needs root (CI runs as root). A skip names that prerequisite; in CI it is an error.
 * SQLite's max_page_count would need no root, but it is per connection and fails a page
 * allocation before any write: it cannot tell a check that writes nothing from one that does.
 */
export const SMALL_DISK_SKIP: string | undefined = process.getuid?.() === 0 ? undefined : 'mounting a tmpfs needs root';
if (SMALL_DISK_SKIP && process.env.CI === 'true') {
  throw new Error(`CI=true but the disk-full suites cannot run: ${SMALL_DISK_SKIP}`);
}

export function mountSmallDisk(sizeMiB: number): SmallDisk {
  const path = mkdtempSync(join(tmpdir(), 'kimlik-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', path]);
  const filler = join(path, 'filler');
  return {
    path,
    fill(leaveBytes = 0) {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      // The last pages too: smaller writes until not even one byte fits.
      const tail = openSync(filler, 'a');
      try {
        for (;;) writeSync(tail, Buffer.alloc(512, 1));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(tail);
      }
      if (leaveBytes > 0) truncateSync(filler, Math.max(0, statSync(filler).size - leaveBytes));
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', path]);
      rmdirSync(path);
    },
  };
}
