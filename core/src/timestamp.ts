/**
 * Client timestamps (`timestamp`, `sentAt`, `originalTimestamp`): ISO-8601 / RFC 3339 date-times,
 * parsed the same way on every collector whatever its time zone. `Date.parse` is not used
 * because it reads a date-time without an offset in the machine's local zone (two collectors
 * behind one load balancer would store different times for one event) and rolls impossible
 * dates over (February 30th becomes March 2nd).
 *
 * Accepted: `YYYY-M-D` (one or two digits for month and day, as in Segment's own examples), then
 * optionally `T`, `t` or a space, `HH:MM`, `:SS`, a fraction of up to 9 digits, and a zone `Z` or
 * `±HH`, `±HHMM`, `±HH:MM`. No zone means UTC. A date alone is midnight UTC.
 */
const TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil; any year). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** Milliseconds since the epoch of valid fields (range-checked here), or null. */
function toEpochMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  offsetMinutes: number,
): number | null {
  if (month < 1 || month > 12 || day < 1) return null;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day > monthDays || hour > 23 || minute > 59 || second > 59) return null;
  return (
    daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + ms
  );
}

/** The decimal number in `text` from `from` to `to` (exclusive), or -1 if a character is not a digit. */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, what `Date.prototype.toISOString` and every SDK send: read without
 * the regular expression (two timestamps per event on the ingest path). Null means "not this
 * form, or not a valid date"; the general parser then decides.
 */
function parseCanonical(text: string): number | null {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 ||
    text.charCodeAt(23) !== 90
  ) {
    return null;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const ms = digits(text, 20, 23);
  if ((year | month | day | hour | minute | second | ms) < 0) return null;
  return toEpochMs(year, month, day, hour, minute, second, ms, 0);
}

/** Milliseconds since the epoch, or null when `text` is not a valid timestamp of the form above. */
export function parseTimestamp(text: string): number | null {
  const canonical = parseCanonical(text);
  if (canonical !== null) return canonical;
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return toEpochMs(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    m[4] === undefined ? 0 : Number(m[4]),
    m[5] === undefined ? 0 : Number(m[5]),
    m[6] === undefined ? 0 : Number(m[6]),
    // Below a millisecond is dropped, as Date does.
    m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0')),
    offsetMinutes,
  );
}
