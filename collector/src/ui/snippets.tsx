import { fillSnippet } from '@kimlik/core';
import { useState } from 'preact/hooks';
import type { Source } from './api.js';
import { copyText } from './format.js';

/** Snippets point at the collector serving this page: the origin a site or server must send to. */
const origin = () => location.origin;

/** The SDK's snippet (the collector puts its template on <body>), so calls pasted after it work. */
export const scriptTagSnippet = (writeKey: string) =>
  fillSnippet(document.body.dataset.snippet || null, origin(), writeKey);

export const nodeSnippet = (writeKey: string) => `import { Kimlik } from '@kimlik/node';

const kimlik = new Kimlik({ writeKey: '${writeKey}', endpoint: '${origin()}' });
kimlik.track({ userId: 'user-1', event: 'Signed Up', properties: { plan: 'pro' } });
await kimlik.shutdown({ timeoutMs: 5000 });`;

export const curlSnippet = (writeKey: string) =>
  `curl -u '${writeKey}:' ${origin()}/v1/track -H 'Content-Type: application/json' \\
  -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro"}}'`;

export function Snippet(props: { label: string; text: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const copy = async () => setCopied(await copyText(props.text));
  return (
    <div class="snippet">
      <div class="snippet-head">
        <span>{props.label}</span>
        <button type="button" class="secondary small" onClick={copy} aria-label={`Copy ${props.label}`}>
          {copied === null ? 'Copy' : copied ? 'Copied' : 'Select and copy'}
        </button>
      </div>
      <pre>{props.text}</pre>
    </div>
  );
}

/** What the live debugger shows until the first event: three ways to send one. */
export function GettingStarted(props: { sources: Source[] }) {
  const key = props.sources[0]?.writeKey ?? '<write key>';
  return (
    <div class="getting-started">
      <h2>Waiting for the first event…</h2>
      <p>
        Events appear here within a second of arriving.{' '}
        {document.body.dataset.demo === 'true' ? (
          <>
            Open the <a href="/">demo page</a> in another tab (it sends a page view), or send one from a terminal:
          </>
        ) : (
          'Send one from a terminal:'
        )}
      </p>
      <Snippet label="curl" text={curlSnippet(key)} />
      <p>Or add the browser SDK to a site:</p>
      <Snippet label="Script tag" text={scriptTagSnippet(key)} />
    </div>
  );
}
