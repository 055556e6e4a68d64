/**
 * The SDKs' call types as an app sees them, from the packages' published .d.ts: compiled by
 * `npm run typecheck` (tsconfig.tests.json, strict), never run. What the READMEs document and the
 * runtime handles must compile; each @ts-expect-error line is a mistake the types keep refusing.
 */
import type { Kimlik } from '@kimlik/node';
import { createKimlik, group, identify, page, track, use, type WireEvent } from '@kimlik/web';

/** An app's own type: an interface has no index signature. */
interface Product {
  sku: string;
  price?: number;
}
const product: Product = { sku: 'sku-1', price: 3 };
const k = createKimlik();

track('Viewed', product);
k.track('Viewed', product).identify('u-1', product);
// Sent as a JSON copy: a Date becomes its ISO string, undefined is dropped.
track('Dated', { at: new Date(), coupon: undefined, nested: { at: new Date() } });
identify('u-1', { email: 'ada@example.com', createdAt: new Date(), plan: undefined });
identify({ plan: 'pro' });
identify(product);
// page(properties): a page view without a name.
page({ path: '/x' });
k.page({ path: '/x' });
page('Pricing', product);
page('Docs', 'Intro', product);
group('acme', product);
use((e: WireEvent) => ({ ...e, properties: { ...e.properties, v: 1 } }));
use(() => null);

// @ts-expect-error properties are an object
track('Viewed', 'sku-1');
// @ts-expect-error an event needs its name
track();
// @ts-expect-error traits are an object
identify('u-1', 42);
// @ts-expect-error a group needs its groupId
group();
// @ts-expect-error a page's name is a string
page(42);
// @ts-expect-error plugins are synchronous: an async plugin's events are skipped
use(async (e: WireEvent) => e);
// @ts-expect-error a plugin returns the event, or null to drop it
use(() => 'x');

// The Node SDK takes the same properties and traits (one type, in @kimlik/core).
declare const node: Kimlik;
void node.track({ userId: 'u-1', event: 'Viewed', properties: product });
void node.identify({ userId: 'u-1', traits: { createdAt: new Date(), plan: undefined } });
void node.page({ anonymousId: 'a-1', properties: product });
void node.group({ userId: 'u-1', groupId: 'acme', traits: product });
// @ts-expect-error properties are an object
void node.track({ userId: 'u-1', event: 'Viewed', properties: 'sku-1' });
