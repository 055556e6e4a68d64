import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startTestCollector, type TestCollector } from './collector.js';
import { type FaultServer, startFaultServer } from './fault-server.js';

export interface FaultedCollector {
  /** The collector, on a fresh SQLite file. */
  readonly collector: TestCollector;
  /** A fault server in front of it: clients send here, tests script its failures. */
  readonly fault: FaultServer;
}

/**
 * A test collector behind a fault server, started and closed around the enclosing suite
 * (`per: 'test'` for a fresh pair per test). Read the fields inside tests and hooks.
 */
export function faultedCollector(per: 'suite' | 'test' = 'suite'): FaultedCollector {
  let collector: TestCollector | undefined;
  let fault: FaultServer | undefined;
  const [before, after] = per === 'suite' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    collector = await startTestCollector();
    fault = await startFaultServer(collector.url);
  });
  after(async () => {
    await fault?.close();
    await collector?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('faultedCollector() is read before its hook started it');
    return value;
  };
  return {
    get collector() {
      return started(collector);
    },
    get fault() {
      return started(fault);
    },
  };
}
