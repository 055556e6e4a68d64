/**
 * The browser SDK's async snippet filled in for a collector and a write key: what the demo page
 * and the dashboard tell a site to paste (both the collector and its dashboard bundle use it).
 */

/** Text made safe inside HTML content and quoted attribute values. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * `template` is sdk-web/dist/snippet.min.js (null before `npm run build`). Without it, a plain
 * script tag: not async, so calls written after it find `window.kimlik` installed.
 */
export function fillSnippet(template: string | null, origin: string, writeKey: string): string {
  if (!template)
    return `<script src="${escapeHtml(origin)}/kimlik.js" data-write-key="${escapeHtml(writeKey)}"></script>`;
  // JSON.stringify then slicing the quotes keeps the values valid inside the snippet's JS strings;
  // "<" is escaped so a value cannot close the <script> element.
  const js = (s: string) => JSON.stringify(s).slice(1, -1).replace(/</g, '\\u003c');
  return `<script>${template.replace('__KIMLIK_SRC__', js(`${origin}/kimlik.js`)).replace('__KIMLIK_WRITE_KEY__', js(writeKey))}</script>`;
}
