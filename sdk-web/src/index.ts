/**
 * @kimlik/web for bundlers: `import { init, track } from '@kimlik/web'`, or `createKimlik()` for a
 * second, independent instance (give it another `storagePrefix`).
 */
import type { Properties } from '@kimlik/core';
import { type Api, createKimlik } from './api.js';
import type { ConsentState, WebOptions } from './options.js';

export type { JsonObject, KimlikError, Properties, WireEvent } from '@kimlik/core';
export type { Api, KimlikStub } from './api.js';
export { createKimlik } from './api.js';
export type { Plugin } from './client.js';
export { WEB_ERROR_CODES } from './errors.js';
export type { UserState } from './identity.js';
export type { ConsentState, WebOptions } from './options.js';
export { DEFAULTS } from './options.js';

/** The default instance, the one `window.kimlik` is in the script-tag build. */
export const kimlik: Api = /* @__PURE__ */ createKimlik();

export const init = (options: WebOptions): Api => kimlik.init(options);
export const track = (event: string, properties?: Properties): Api => kimlik.track(event, properties);
type Loose = (...args: unknown[]) => Api;
export const identify: Api['identify'] = (...args: unknown[]) => (kimlik.identify as Loose)(...args);
export const page: Api['page'] = (...args: unknown[]) => (kimlik.page as Loose)(...args);
export const group = (groupId: string, traits?: Properties): Api => kimlik.group(groupId, traits);
export const alias = (userId: string, previousId?: string): Api => kimlik.alias(userId, previousId);
export const reset = (): Api => kimlik.reset();
export const flush = (): Promise<void> => kimlik.flush();
export const consent = (state: ConsentState): Api => kimlik.consent(state);
export const user = () => kimlik.user();
export const use = (plugin: Parameters<Api['use']>[0]): Api => kimlik.use(plugin);
export const ready = (callback?: () => void): Promise<void> => kimlik.ready(callback);
