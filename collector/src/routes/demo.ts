import { escapeHtml, fillSnippet } from '@kimlik/core';
import type { FastifyInstance } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';
import { PUBLIC_ORIGIN_VARY, publicOrigin } from '../http/public-origin.js';
import { snippetTemplate } from './snippet-template.js';

/** The page `npm start` points a new user at: what to paste, and the real browser SDK at work. */
export function demoRoutes(app: FastifyInstance, deps: { sources: SourceRegistry }): void {
  app.get('/', async (request, reply) => {
    const writeKey = deps.sources.all()[0]?.writeKey ?? '';
    // Behind a TLS-terminating proxy an http:// script on the https page would be blocked.
    const { protocol, host } = publicOrigin(request);
    const origin = `${protocol}://${host}`;
    const curl = `curl -u '${writeKey}:' ${origin}/v1/track -H 'Content-Type: application/json' -d '{"userId":"u1","event":"Signed Up"}'`;
    const snippet = fillSnippet(snippetTemplate(), origin, writeKey);
    reply.header('Vary', PUBLIC_ORIGIN_VARY);
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Kimlik collector</title>
${snippet}
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto;white-space:pre-wrap;word-break:break-all}</style>
</head><body>
<h1>Kimlik collector is running</h1>
<p><strong>See your events arrive:</strong> open the <a id="dashboard" href="/ui">dashboard</a> and sign in with the admin key printed when the collector first started.</p>
<p>This page runs the browser SDK (<a href="/kimlik.js">/kimlik.js</a>) through the snippet below, which sent a page view when it loaded.</p>
<p><button id="send" type="button">Track a test event</button> <button id="login" type="button">Identify as grace@example.com</button> <button id="logout" type="button">Reset (log out)</button></p>
<pre id="user">loading…</pre>
<p>Add it to your site: paste this into the page's <code>&lt;head&gt;</code>, then call <code>kimlik.track('Signed Up', {plan: 'pro'})</code>.</p>
<pre id="snippet">${escapeHtml(snippet)}</pre>
<p>Or send an event from your terminal:</p>
<pre id="curl">${escapeHtml(curl)}</pre>
<p>API: <a href="/openapi.json">/openapi.json</a> · health: <a href="/readyz">/readyz</a> · metrics: <a href="/metrics">/metrics</a></p>
<script>
const show = () => { document.getElementById('user').textContent = 'kimlik.user() = ' + JSON.stringify(kimlik.user(), null, 1); };
const run = (id, fn) => document.getElementById(id).addEventListener('click', () => { fn(); kimlik.flush(); setTimeout(show, 50); });
run('send', () => kimlik.track('Demo Button Clicked'));
run('login', () => kimlik.identify('grace', { email: 'grace@example.com', name: 'Grace' }));
run('logout', () => kimlik.reset());
kimlik.ready(show);
</script>
</body></html>`);
  });
}
