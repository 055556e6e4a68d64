/** Browser origins as configured for the collector (KIMLIK_CORS_ORIGINS) or a source (allowedOrigins). */

/** `value` when it is an origin exactly as browsers send it (`https://shop.example`, a port only if not the default), else null. */
export function exactOrigin(value: unknown): string | null {
  if (typeof value !== 'string' || !URL.canParse(value)) return null;
  const origin = new URL(value).origin;
  return origin !== 'null' && origin === value ? origin : null;
}

/** Why `value` is not an origin, with what to write instead. */
export function notAnOrigin(value: unknown): string {
  const parsed = typeof value === 'string' && URL.canParse(value) ? new URL(value).origin : 'null';
  const instead = parsed === 'null' ? 'e.g. "https://shop.example"' : `here "${parsed}"`;
  return `${JSON.stringify(value)} is not an origin: write scheme://host[:port] as browsers send it, ${instead}`;
}
