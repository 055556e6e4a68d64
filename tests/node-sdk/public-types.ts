/**
 * The Node SDK's call types as a server app sees them, from the published .d.ts: compiled by
 * `npm run typecheck` (tsconfig.tests.json, strict), never run. The browser SDK's are in
 * tests/browser/public-types.ts.
 */
import type { Kimlik } from '@kimlik/node';

declare const kimlik: Kimlik;
/** What an Express or Fastify request hands out: `req.ip`, `req.get('user-agent')`. */
declare const req: { ip: string | undefined; get(name: string): string | undefined };
interface Device {
  model: string;
  os?: string;
}
declare const device: Device;

// context takes what properties take: undefined is dropped as sent, an interface is an object.
void kimlik.track({ userId: 'u-1', event: 'Logged In', context: { ip: req.ip, userAgent: req.get('user-agent') } });
void kimlik.identify({ userId: 'u-1', context: { device, at: new Date() } });
void kimlik.page({ anonymousId: 'a-1', context: { page: { path: '/x', referrer: undefined } } });
// @ts-expect-error context is an object
void kimlik.track({ userId: 'u-1', event: 'Viewed', context: 'ip' });
