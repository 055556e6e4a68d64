// Serves an example directory on http://localhost:8081 (PORT to change), filling in where the
// collector is (KIMLIK_URL, default http://localhost:8080, what `npm start` runs) and its write key
// (KIMLIK_WRITE_KEY, printed by the collector on first start). Unknown paths get index.html, so a
// client-side router can own the URL space. No dependencies: node:http and node:fs only.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

/** The async snippet exactly as sdk-web builds it (`npm run build`), for `<!--KIMLIK_SNIPPET-->`. */
const SNIPPET = fileURLToPath(new URL('../../sdk-web/dist/snippet.min.js', import.meta.url));

export function serveExample(dir, { port = 8081, host = '127.0.0.1', collectorUrl, writeKey }) {
  const snippet = () =>
    `<script>${readFileSync(SNIPPET, 'utf8').trim().replace('__KIMLIK_SRC__', '__KIMLIK_URL__/kimlik.js')}</script>`;
  const fill = (text) =>
    text
      .replace('<!--KIMLIK_SNIPPET-->', snippet)
      .replaceAll('__KIMLIK_URL__', collectorUrl)
      .replaceAll('__KIMLIK_WRITE_KEY__', writeKey);
  const server = createServer((req, res) => {
    let decoded;
    try {
      decoded = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch (error) {
      // `/%E0` is no path at all; thrown here, it would end the server for everyone.
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`Bad request path: ${error.message}\n`);
      return;
    }
    const path = normalize(decoded).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path === '/' ? 'index.html' : path);
    let body;
    try {
      body = readFileSync(file, 'utf8');
    } catch (error) {
      void error; // Not a file: the SPA's router decides what the path shows.
      file = join(dir, 'index.html');
      body = readFileSync(file, 'utf8');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'text/plain', 'cache-control': 'no-store' });
    res.end(fill(body));
  });
  return new Promise((resolve) =>
    server.listen(port, host, () => resolve({ server, url: `http://${host}:${server.address().port}` })),
  );
}

/**
 * The command line of an example's server: reads KIMLIK_URL, KIMLIK_WRITE_KEY and PORT, serves
 * `dir`, and says where. Shared by the examples that are static sites.
 */
export async function serveFromCommandLine(dir, { defaultPort, label }) {
  const collectorUrl = process.env.KIMLIK_URL ?? 'http://localhost:8080';
  const writeKey = process.env.KIMLIK_WRITE_KEY;
  if (!writeKey) {
    console.error('Set KIMLIK_WRITE_KEY to the write key the collector printed on its first start.');
    process.exit(1);
  }
  const { url } = await serveExample(dir, {
    port: Number(process.env.PORT ?? defaultPort),
    collectorUrl,
    writeKey,
  });
  console.log(`${label} on ${url}, sending to ${collectorUrl}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveFromCommandLine(fileURLToPath(new URL('.', import.meta.url)), { defaultPort: 8081, label: 'Example' });
}
