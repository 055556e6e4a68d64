import type { Api } from '../../sdk-web/src/api.js';

// What the browser suites' pages expose: the SDK as the script tag installs it.
declare global {
  interface Window {
    kimlik: Api;
  }
}
