import { InvalidOptionError } from './errors.js';

/**
 * Option checks shared by the SDKs. Each distinct message is bytes in the browser bundle, so
 * every numeric option gets the same check and the same message, naming the bound it missed.
 */
export function checkNumber(
  options: Record<string, unknown>,
  key: string,
  min: number,
  integer = false,
  unbounded = false,
): void {
  const v = options[key];
  if (
    typeof v !== 'number' ||
    !(v >= min) ||
    (v === Number.POSITIVE_INFINITY ? !unbounded : integer && !Number.isInteger(v))
  ) {
    throw new InvalidOptionError(
      key,
      `expected ${integer ? 'an integer' : 'a number'} >= ${min}${unbounded ? ' or Infinity' : ''}, got ${v}`,
    );
  }
}

/** Throws `InvalidOptionError` unless `options[key]` is one of `values`. */
export function checkOneOf(options: Record<string, unknown>, key: string, values: readonly unknown[]): void {
  const v = options[key];
  if (!values.includes(v)) throw new InvalidOptionError(key, `use one of '${values.join("', '")}', got ${v}`);
}
