import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError } from '@kimlik/core';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../tests/helpers/collector.js';
import { DEFAULTS, optionsFromEnv, resolveOptions } from './options.js';

describe('collector options', () => {
  it('applies defaults', () => {
    const o = resolveOptions({});
    expect(o.port).toBe(8080);
    expect(o.database).toBe('./data/kimlik.db');
    expect(o.limits.maxEventBytes).toBe(32 * 1024);
    expect(o.identityConfig.traitIdentifiers).toEqual(['email']);
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it('reads the environment, with a JSON config file under it', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'kimlik.json');
      writeFileSync(file, JSON.stringify({ port: 9000, maxBatchEvents: 10, logLevel: 'warn' }));
      const o = resolveOptions(
        optionsFromEnv({
          KIMLIK_CONFIG: file,
          PORT: '9100',
          KIMLIK_CORS_ORIGINS: 'https://a.example, https://b.example',
          KIMLIK_IDENTITY_TRAITS: 'email,phone',
          KIMLIK_DEMO: 'false',
          KIMLIK_BLOCKED_VALUES: 'nobody,test',
        }),
      );
      expect(o.port).toBe(9100);
      expect(o.maxBatchEvents).toBe(10);
      expect(o.logLevel).toBe('warn');
      expect(o.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
      expect(o.identityConfig.traitIdentifiers).toEqual(['email', 'phone']);
      expect([...o.identityConfig.blockedValues]).toEqual(['nobody', 'test']);
      expect(o.demo).toBe(false);
    } finally {
      dir.remove();
    }
  });

  it.each([
    [{ port: 70000 }, /port.*0-65535/],
    [{ maxBodyBytes: -1 }, /maxBodyBytes.*positive whole number/],
    [{ maxMessageIdLength: 513 }, /maxMessageIdLength.*at most 512/],
    [{ requestTimeoutMs: 3_000_000_000 }, /requestTimeoutMs.*at most 2147483647/],
    [{ drainTimeoutMs: 2 ** 31 }, /drainTimeoutMs.*at most 2147483647/],
    [{ streamHeartbeatMs: 3_000_000_000 }, /streamHeartbeatMs.*at most 2147483647/],
    [{ sqliteSynchronous: 'OFF' as never }, /NORMAL or FULL/],
    [{ logLevel: 'loud' as never }, /logLevel/],
    [{ writeKey: 'short' }, /at least 8 characters/],
    [{ identityTraits: ['address' as never] }, /identityTraits/],
    [{ writeKey: 'wk_same_key', adminKey: 'wk_same_key' }, /adminKey.*differ from the write key/],
    [
      { corsOrigins: ['https://a.example/'] },
      /corsOrigins.*"https:\/\/a\.example\/" is not an origin.*https:\/\/a\.example"/,
    ],
    [{ corsOrigins: ['not a url'] }, /corsOrigins.*not an origin/],
    [{ corsOrigins: 'https://a.example' as never }, /corsOrigins.*list/],
    [{ identityTraits: 'email,phone' as never }, /identityTraits.*list.*\["email", "phone"\]/],
    [{ demo: 'false' as never }, /demo.*true or false.*"false"/],
    [{ identity: 'no' as never }, /identity.*true or false/],
  ])('refuses %j with a message saying what to write', (opts, message) => {
    expect(() => resolveOptions(opts)).toThrow(InvalidOptionError);
    expect(() => resolveOptions(opts)).toThrow(message);
  });

  it('refuses an in-memory SQLite database by name (the writer thread opened its own, empty one: "no such table")', () => {
    for (const database of [':memory:', 'file::memory:', 'file:x.db?mode=memory']) {
      expect(() => resolveOptions({ database }), database).toThrow(/in memory/);
    }
  });

  it('names a config file it cannot read', () => {
    expect(() => optionsFromEnv({ KIMLIK_CONFIG: '/nonexistent/kimlik.json' })).toThrow(/KIMLIK_CONFIG.*nonexistent/);
  });

  it.each([
    ['PORT', '0x4745', /port.*"0x4745"/],
    ['PORT', '1e4', /port.*"1e4"/],
    ['KIMLIK_MAX_BODY_BYTES', '512kb', /maxBodyBytes.*"512kb"/],
    ['KIMLIK_DEMO', 'maybe', /demo.*true or false.*"maybe"/],
    ['KIMLIK_IDENTITY', 'disabled', /identity.*true or false.*"disabled"/],
  ])('refuses %s=%s from the environment, naming what was written', (name, value, message) => {
    expect(() => resolveOptions(optionsFromEnv({ [name]: value }))).toThrow(message);
  });

  it('reads yes/no, on/off, 1/0 and true/false as booleans from the environment', () => {
    for (const [raw, value] of [
      ['TRUE', true],
      ['on', true],
      ['1', true],
      ['yes', true],
      ['off', false],
      ['0', false],
      ['No', false],
    ] as const)
      expect(resolveOptions(optionsFromEnv({ KIMLIK_DEMO: raw })).demo).toBe(value);
  });

  it('refuses a config file key it does not know, saying which one was meant', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'kimlik.json');
      writeFileSync(file, JSON.stringify({ PORT: 9000 }));
      expect(() => optionsFromEnv({ KIMLIK_CONFIG: file })).toThrow(/"PORT".*write "port"/);
      writeFileSync(file, JSON.stringify({ maxBatchEvent: 10 }));
      expect(() => optionsFromEnv({ KIMLIK_CONFIG: file })).toThrow(/"maxBatchEvent" is not an option/);
      // Names every object has are not options either.
      for (const key of ['constructor', 'toString', '__proto__']) {
        writeFileSync(file, `{"port": 9000, ${JSON.stringify(key)}: 5}`);
        expect(() => optionsFromEnv({ KIMLIK_CONFIG: file })).toThrow(`"${key}" is not an option`);
      }
    } finally {
      dir.remove();
    }
  });
});
