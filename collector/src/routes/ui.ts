import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { escapeHtml } from '@kimlik/core';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/errors.js';
import { snippetTemplate } from './snippet-template.js';

/**
 * The dashboard's bundle, built by `npm run build` (collector/rollup.builds.mjs) into dist/ui/.
 * Under vitest this module runs from src/, and the built files are still in dist/.
 */
function assetDir(): string {
  const url = new URL('../ui/', import.meta.url);
  const href = import.meta.url.endsWith('.ts') ? url.href.replace('/collector/src/', '/collector/dist/') : url.href;
  return fileURLToPath(href);
}

const ASSETS: Record<string, string> = {
  'app.js': 'application/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
};

/**
 * The page holds the admin key: it runs only its own script and style, talks only to this
 * collector, and cannot be framed.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface Asset {
  body: Buffer;
  hash: string;
}

/** Serves the dashboard at /ui: index.html (never cached) and versioned assets (cached for good). */
/** `demo`: whether the demo page is served at `/` (the dashboard links it only then). */
export function uiRoutes(app: FastifyInstance, { demo }: { demo: boolean }): void {
  const dir = assetDir();
  const cache = new Map<string, Asset>();
  const load = (file: string): Asset | null => {
    let asset = cache.get(file);
    if (asset) return asset;
    try {
      const body = readFileSync(`${dir}${file}`);
      asset = { body, hash: createHash('sha256').update(body).digest('base64url').slice(0, 16) };
    } catch (error) {
      void error;
      return null;
    }
    cache.set(file, asset);
    return asset;
  };

  const index = () => {
    const js = load('app.js');
    const css = load('styles.css');
    if (!js || !css) return null;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Kimlik dashboard</title>
<link rel="stylesheet" href="/ui/styles.css?v=${css.hash}">
<script type="module" src="/ui/app.js?v=${js.hash}"></script>
</head><body data-demo="${demo}" data-snippet="${escapeHtml(snippetTemplate() ?? '')}"><div id="app"><noscript>The Kimlik dashboard needs JavaScript.</noscript></div></body></html>
`;
  };

  const sendIndex = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const html = index();
    if (html === null) {
      throw new HttpError('KIMLIK_NOT_FOUND', 'The dashboard is not built: run `npm run build`');
    }
    reply.headers({ ...SECURITY_HEADERS, 'Cache-Control': 'no-cache' });
    return reply.type('text/html; charset=utf-8').send(html);
  };

  app.get('/ui', sendIndex);
  app.get('/ui/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    if (file === '' || file === 'index.html') return sendIndex(request, reply);
    const type = ASSETS[file];
    const asset = type ? load(file) : null;
    if (!type || !asset) throw new HttpError('KIMLIK_NOT_FOUND', `No dashboard file ${file}`);
    const { v } = request.query as { v?: string };
    // index.html names each asset with its hash, so a versioned URL never changes content.
    reply.headers({
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
      ETag: `"${asset.hash}"`,
    });
    if (request.headers['if-none-match'] === `"${asset.hash}"`) return reply.code(304).send();
    return reply.type(type).send(asset.body);
  });
}
