import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The browser SDK's async snippet (built by `npm run build` beside the bundle). */
const SNIPPET = fileURLToPath(new URL('../../../sdk-web/dist/snippet.min.js', import.meta.url));

/** The snippet's template with its placeholders, or null before a build. */
export function snippetTemplate(): string | null {
  try {
    return readFileSync(SNIPPET, 'utf8').trim();
  } catch (error) {
    void error;
    return null;
  }
}
