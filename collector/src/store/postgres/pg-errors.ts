/**
 * SQLSTATE classes of errors caused by the data a statement was given (22 data exception, 23
 * integrity constraint, 42 a statement that cannot run, P0 raised by PL/pgSQL), which recur every
 * time the same events are written or applied: the callers then find the events that cause them
 * (group-commit.ts, identity-applier.ts). Errors of the connection or the server (08, 53, 57, 58,
 * …) do not: that work is retried whole.
 */
const DATA_ERROR_CLASSES = /^(22|23|42|P0)/;

export function failsEveryTime(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return DATA_ERROR_CLASSES.test(code);
  // A bug in our code (a plain Error without a code may be pg's "connection terminated").
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;
}
