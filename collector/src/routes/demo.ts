import type { FastifyInstance } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page `npm start` points a new user at: what to paste, and a button that sends an event. */
export function demoRoutes(app: FastifyInstance, deps: { sources: SourceRegistry }): void {
  app.get('/', async (request, reply) => {
    const writeKey = deps.sources.all()[0]?.writeKey ?? '';
    const origin = `${request.protocol}://${request.host}`;
    const curl = `curl -u '${writeKey}:' ${origin}/v1/track -H 'Content-Type: application/json' -d '{"userId":"u1","event":"Signed Up"}'`;
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Kimlik collector</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>
</head><body>
<h1>Kimlik collector is running</h1>
<p>Send an event from your terminal:</p>
<pre id="curl">${escapeHtml(curl)}</pre>
<p>Or from this page: <button id="send" type="button">Send a test event</button> <output id="result"></output></p>
<p>API: <a href="/openapi.json">/openapi.json</a> · health: <a href="/readyz">/readyz</a> · metrics: <a href="/metrics">/metrics</a></p>
<script>
document.getElementById('send').addEventListener('click', async () => {
  const out = document.getElementById('result');
  const res = await fetch('/v1/track', { method: 'POST', headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ writeKey: ${JSON.stringify(writeKey)}, anonymousId: 'demo-page', event: 'Demo Button Clicked' }) });
  out.textContent = res.status + ' ' + (await res.text());
});
</script>
</body></html>`);
  });
}
