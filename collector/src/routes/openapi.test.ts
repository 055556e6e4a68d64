import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { HTTP_ERRORS } from '../http/errors.js';
import { OPENAPI } from './openapi-document.js';

interface Schema {
  $ref?: string;
  allOf?: readonly Schema[];
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** The schema a `$ref` names, with `allOf` parts merged into one list of properties. */
function resolve(schema: Schema): Schema {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return resolve((OPENAPI.components.schemas as unknown as Record<string, Schema>)[name] as Schema);
  }
  if (!schema.allOf) return schema;
  const parts = schema.allOf.map(resolve);
  return { properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})) };
}

/** Paths of fields in `value` that `schema` does not name (an object schema naming none is free-form). */
function undocumented(value: unknown, schema: Schema, path = ''): string[] {
  const s = resolve(schema);
  if (Array.isArray(value))
    return s.items ? value.flatMap((v, i) => undocumented(v, s.items as Schema, `${path}[${i}]`)) : [];
  if (typeof value !== 'object' || value === null || !s.properties) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const field = s.properties?.[key];
    return field ? undocumented(v, field, `${path}.${key}`) : [`${path}.${key}`];
  });
}

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

describe('the API documents stay true', () => {
  it('every route is in the OpenAPI document, and every documented path is a route', async () => {
    const served = await (await fetch(`${c.url}/openapi.json`)).json();
    expect(served).toEqual(JSON.parse(JSON.stringify(OPENAPI)));
    const routes = new Set(
      c.collector.routes
        .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
        .map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    );
    expect([...routes].sort()).toEqual([...documented].sort());
  });

  it("the ingest answers carry only fields the document names (200 with an erased person's event, 400 with rejected)", async () => {
    const basic = `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`;
    const admin = { authorization: `Bearer ${c.adminKey}` };
    const post = async (path: string, body: unknown, contentType = 'application/json') => {
      const res = await fetch(`${c.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: basic },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // An erased person's later events are dropped, and acknowledged without being named.
    expect((await post('/v1/identify', { userId: 'openapi-erased', traits: { plan: 'pro' } })).status).toBe(200);
    const profile = (await (await fetch(`${c.url}/v1/profiles?userId=openapi-erased`, { headers: admin })).json()) as {
      id: string;
    };
    expect((await fetch(`${c.url}/v1/profiles/${profile.id}`, { method: 'DELETE', headers: admin })).status).toBe(200);
    const batch = await post('/v1/batch', {
      batch: [
        { type: 'track', event: 'After Erasure', userId: 'openapi-erased' },
        { type: 'track', userId: 'u1' },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(batch.body).not.toHaveProperty('suppressed');
    type Responses = Record<string, { content?: Record<string, { schema: Schema }> }>;
    const answer = (path: string, status: number): Schema => {
      const ops = OPENAPI.paths as unknown as Record<string, { post?: { responses: Responses } }>;
      const schema = ops[path]?.post?.responses[status]?.content?.['application/json']?.schema;
      if (!schema) throw new Error(`No JSON answer documented for POST ${path} ${status}`);
      return schema;
    };
    expect(undocumented(batch.body, answer('/v1/batch', 200))).toEqual([]);

    const allRejected = await post('/v1/batch', { batch: [{ type: 'nope', userId: 'u1' }] });
    expect(allRejected.status).toBe(400);
    expect(allRejected.body).toHaveProperty('rejected');
    expect(undocumented(allRejected.body, answer('/v1/batch', 400))).toEqual([]);
    expect(undocumented(allRejected.body, answer('/v1/track', 400))).toEqual([]);
  });

  it('every Content-Type the ingest routes read as JSON is in the document', async () => {
    const documented = Object.keys(
      (OPENAPI.paths['/v1/track'] as { post: { requestBody: { content: Record<string, unknown> } } }).post.requestBody
        .content,
    );
    for (const type of [
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
    ]) {
      const res = await fetch(`${c.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}` },
        body: JSON.stringify({ type: 'track', event: 'Typed', userId: 'u1' }),
      });
      expect([type, res.status]).toEqual([type, 200]);
      expect(documented).toContain(type);
    }
  });

  it('every error code is in the README error table', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(HTTP_ERRORS).filter((code) => !readme.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('every configuration option is in the README configuration table', async () => {
    const { ENV_NAMES } = await import('../options.js');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(Object.values(ENV_NAMES).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
