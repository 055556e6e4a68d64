/**
 * SQLSTATE classes of errors caused by the data a statement was given (22 data exception, 23
 * integrity constraint, P0 raised by PL/pgSQL), which recur every time the same events are written
 * or applied: the callers then find the events that cause them (group-commit.ts,
 * identity-applier.ts). Class 42 is not one of them: Kimlik's statements are fixed, so a
 * permission denied (42501, a REVOKE), a table or column missing (42P01, 42703, a schema changed
 * under the collector) fail every event alike, and splitting a commit down to single events
 * answered each one "not stored" (400, dropped by clients) for a database that was misconfigured.
 * Those, like errors of the connection or the server (08, 53, 57, 58, …), are the store failing:
 * the work is retried whole (503 to clients, identity kept pending).
 */
const DATA_ERROR_CLASSES = /^(22|23|P0)/;

/**
 * SQLSTATE of "current transaction is aborted": a statement sent (pipelined) after another failed
 * in the same transaction. It names neither the cause nor its class, so `inTransaction`
 * (connection.ts) rejects such a statement with the error that aborted the transaction instead.
 */
export const IN_FAILED_TRANSACTION = '25P02';

export function failsEveryTime(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return DATA_ERROR_CLASSES.test(code);
  // A bug in our code (a plain Error without a code may be pg's "connection terminated").
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;
}
