/**
 * The reader thread: the admin API's and the dashboard's reads, on a read-only connection of its
 * own. A profile of a long trait history or the overview's profile count reads for a second or
 * more; on the HTTP thread (better-sqlite3 is synchronous) every ingest request waited for it. In
 * WAL mode a reader neither blocks the writer thread nor waits for it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorText } from '../error-text.js';
import type { EventPage, StatsQuery } from '../store.js';
import { fileGone, openDatabase } from './open.js';
import { ProfileReader } from './profile-reader.js';
import { StatsReader } from './stats-reader.js';
import { errorReply, type ThreadReply } from './worker-thread.js';

export interface ReaderInit {
  path: string;
  /** The file the store opened (`fileIdentity`). */
  fileId: string | null;
  synchronous: 'NORMAL' | 'FULL';
  salt: string;
}
export type ReaderRequest =
  | { id: number; op: 'findProfile'; type: string; value: string }
  | { id: number; op: 'getProfile'; profileId: string }
  | { id: number; op: 'profileEvents'; profileId: string; limit: number; before?: string | undefined }
  | { id: number; op: 'profileHistory'; profileId: string }
  | { id: number; op: 'setAside' }
  | {
      id: number;
      op: 'listByTrait';
      name: string;
      values: readonly unknown[];
      limit: number;
      cursor?: string | undefined;
    }
  | { id: number; op: 'listEvents'; limit: number; before?: string | undefined }
  | { id: number; op: 'stats'; query: StatsQuery };

const port = parentPort;
if (!port) throw new Error('reader-worker must run as a worker thread');
const init = workerData as ReaderInit;

function start() {
  try {
    const db = openDatabase(init.path, { readonly: true, synchronous: init.synchronous, mustExist: true });
    const gone = fileGone(init.path, init.fileId);
    if (gone) throw new Error(gone);
    return db;
  } catch (err) {
    // Rethrown plain: a SqliteError reaches the store's thread as `{code}` alone.
    throw new Error(`the reader thread could not open the database: ${errorText(err)}`);
  }
}
const db = start();
const profiles = new ProfileReader(db, init.salt);
// Its remembered buckets and totals live here: the store's `forget` message clears them after an erasure.
const statsReader = new StatsReader(db);

function listEvents(limit: number, before: string | undefined): EventPage {
  const rows = db
    .prepare('SELECT id, source_id, payload FROM events WHERE id < ? ORDER BY id DESC LIMIT ?')
    .all(before === undefined ? Number.MAX_SAFE_INTEGER : Number(before), limit + 1) as {
    id: number;
    source_id: number;
    payload: string;
  }[];
  const page = rows.slice(0, limit);
  return {
    events: page.map((r) => ({ id: String(r.id), sourceId: r.source_id, event: JSON.parse(r.payload) })),
    nextCursor: rows.length > limit && page.length > 0 ? String(page[page.length - 1]?.id) : null,
  };
}

function read(msg: ReaderRequest): unknown {
  switch (msg.op) {
    case 'findProfile':
      return profiles.findByIdentifier(msg.type, msg.value);
    case 'getProfile':
      return profiles.getProfile(msg.profileId);
    case 'profileEvents':
      return profiles.events(msg.profileId, msg.limit, msg.before);
    case 'profileHistory':
      return profiles.history(msg.profileId);
    case 'setAside':
      return profiles.setAside();
    case 'listByTrait':
      return profiles.listByTrait(msg.name, msg.values, msg.limit, msg.cursor);
    case 'listEvents':
      return listEvents(msg.limit, msg.before);
    case 'stats':
      return statsReader.stats(msg.query);
  }
}

// One snapshot per read: its statements see the same commits (the writer commits meanwhile), and a
// read sent after the store synced with the writer starts after that sync's commits.
const snapshot = db.transaction((msg: ReaderRequest) => read(msg));

port.on('message', (msg: ReaderRequest | { close: true } | { forget: true }) => {
  if ('close' in msg) {
    db.close();
    port.postMessage({ closed: true });
    return;
  }
  if ('forget' in msg) {
    statsReader.forget();
    return;
  }
  try {
    port.postMessage({ id: msg.id, result: snapshot.deferred(msg) } satisfies ThreadReply);
  } catch (err) {
    port.postMessage(errorReply(msg.id, err));
  }
});
