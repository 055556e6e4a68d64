/**
 * Refuses a database a newer collector has migrated. Running on a schema it does not know, an
 * older collector goes on without what the newer one added (an erasure's shared-device periods,
 * for one: the erased person's late events went to the device's other user), and writes data the
 * newer one then misreads. Versions are applied in order, so the newest applied tells.
 */
export function refuseNewerSchema(
  applied: Iterable<number>,
  known: readonly { version: number }[],
  database: string,
): void {
  const latest = Math.max(0, ...known.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > latest) {
    throw new Error(
      `${database} has schema version ${newest}, newer than this collector's ${latest}: a newer Kimlik upgraded it. Run that version or a later one; an older collector would misread it`,
    );
  }
}
