import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BEGINNING } from '../../collector/src/identity/resolve.js';
import {
  boolArray,
  encodedTextArray,
  encodeTexts,
  int4Array,
  int8Array,
  textArray,
} from '../../collector/src/store/postgres/binary-arrays.js';
import { describePostgres, POSTGRES_URL } from '../helpers/stores.js';

// Every write of the PostgreSQL store passes its columns this way: what PostgreSQL reads back
// must be exactly what was encoded, including the values that need care in a binary format.
describePostgres('binary array parameters', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  const roundTrip = async (cast: string, param: Buffer) =>
    (await client.query<{ v: unknown }>(`SELECT x::text AS v FROM unnest($1::${cast}) AS x`, [param])).rows.map(
      (r) => r.v,
    );

  it('text[]: multi-byte characters, quotes, backslashes, empty strings and NULLs', async () => {
    const values = ['plain', 'ünïcödé ✓ 😀', '{"a":"b\\\\c"}', '', null, 'comma, "quoted"', 'NULL'];
    expect(await roundTrip('text[]', textArray(values))).toEqual(values);
  });

  it('text[]: NUL, which PostgreSQL text cannot hold, arrives as U+FFFD', async () => {
    expect(await roundTrip('text[]', textArray(['a\u0000b', '\u0000', 'ok']))).toEqual(['a\uFFFDb', '\uFFFD', 'ok']);
  });

  it('text[] from texts encoded earlier: any elements of several encodings, in the order picked', async () => {
    const a = encodeTexts(['{"n":1}', 'ünïcödé ✓ 😀', '', '{"q":"\\"x\\""}']);
    const b = encodeTexts(['second', '']);
    const picks = [
      [b, 0],
      [a, 3],
      [a, 1],
      [b, 1],
      [a, 2],
    ] as const;
    expect(await roundTrip('text[]', encodedTextArray(picks))).toEqual([
      'second',
      '{"q":"\\"x\\""}',
      'ünïcödé ✓ 😀',
      '',
      '',
    ]);
    expect(await roundTrip('text[]', encodedTextArray([]))).toEqual([]);
  });

  it('bigint[]: negative, zero, the resolver bounds and the largest safe integers; NULLs', async () => {
    const values = [
      0,
      1,
      -1,
      4294967295,
      4294967296,
      -4294967297,
      BEGINNING,
      -BEGINNING,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      null,
    ];
    expect(await roundTrip('bigint[]', int8Array(values))).toEqual(values.map((v) => (v === null ? null : String(v))));
    expect(() => int8Array([1.5])).toThrow(RangeError);
  });

  it('int[] and boolean[]', async () => {
    expect(await roundTrip('int[]', int4Array([1, -2, 2147483647, null]))).toEqual(['1', '-2', '2147483647', null]);
    expect(await roundTrip('boolean[]', boolArray([true, false, null]))).toEqual(['true', 'false', null]);
  });

  it('empty arrays of every type', async () => {
    for (const [cast, param] of [
      ['text[]', textArray([])],
      ['bigint[]', int8Array([])],
      ['int[]', int4Array([])],
      ['boolean[]', boolArray([])],
    ] as const) {
      expect(await roundTrip(cast, param)).toEqual([]);
    }
  });
});
