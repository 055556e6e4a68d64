/**
 * SQLite result codes that say the database or the machine is failing (disk full, I/O error,
 * locked, out of memory, corrupt), not the data a statement was given. An identity batch that
 * fails with one of them is retried whole later; any other failure is the same every time it runs,
 * so the batch is split to find the events that cause it (identity-applier.ts).
 */
const ENVIRONMENT_CODES =
  /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL|INTERRUPT|PERM|AUTH|NOLFS)/;

export function isEnvironmentError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ENVIRONMENT_CODES.test(code);
}
