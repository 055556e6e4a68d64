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
    [{ sqliteSynchronous: 'OFF' as never }, /NORMAL or FULL/],
    [{ logLevel: 'loud' as never }, /logLevel/],
    [{ writeKey: 'short' }, /at least 8 characters/],
    [{ identityTraits: ['address' as never] }, /identityTraits/],
  ])('refuses %j with a message saying what to write', (opts, message) => {
    expect(() => resolveOptions(opts)).toThrow(InvalidOptionError);
    expect(() => resolveOptions(opts)).toThrow(message);
  });

  it('names a config file it cannot read', () => {
    expect(() => optionsFromEnv({ KIMLIK_CONFIG: '/nonexistent/kimlik.json' })).toThrow(/KIMLIK_CONFIG.*nonexistent/);
  });
});
