import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { EVENT_TYPES } from '@kimlik/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { type Answer, openApiAnswers } from '../../../tests/helpers/openapi-answers.js';
import { OPENAPI } from './openapi-document.js';

/**
 * Every operation of the OpenAPI document is asked of a real collector, its error cases too, and
 * each answer's status, Content-Type, headers and body must be what the document says for that
 * operation and status. Then every documented status must have been answered, but for those below.
 */
const doc = JSON.parse(JSON.stringify(OPENAPI));
const checker = openApiAnswers(doc);

/** Documented answers this file cannot bring about, and where they are asked instead. */
const NOT_ASKED_HERE: { matches: (operation: string, status: number) => boolean; why: string }[] = [
  {
    matches: (op, status) => status === 429 && op.startsWith('post /'),
    why: 'a full ingest queue: overload.test.ts',
  },
  {
    matches: (op, status) => status === 503 && op !== 'get /readyz',
    why: 'a database that cannot be read or commit: PostgreSQL down (SQLite reads do not fail); health.test.ts and store-refusal.test.ts for ingest',
  },
  {
    matches: (op, status) => status === 404 && (op === 'get /ui' || op === 'get /kimlik.js'),
    why: 'a collector whose dashboard or browser bundle is not built',
  },
];

type Auth = 'admin' | 'write' | 'none';
interface Ask {
  auth?: Auth;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** An endless stream: its body is not read. */
  stream?: boolean;
}

const answered = new Set<string>();
let c: TestCollector;
let off: TestCollector;
let slow: TestCollector;

async function ask(on: TestCollector, operation: string, path: string, opts: Ask = {}): Promise<Answer> {
  const method = operation.split(' ')[0]?.toUpperCase() as string;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth === 'admin') headers.authorization = `Bearer ${on.adminKey}`;
  if (opts.auth === 'write') headers.authorization = `Basic ${btoa(`${on.writeKey}:`)}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${on.url}${path}`, { method, headers, body: opts.body });
  let body: string | null = null;
  if (opts.stream) await res.body?.cancel();
  else body = await res.text();
  return { operation, status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body };
}

/** Asks, checks the answer against the document, and returns its status and JSON. */
async function check(on: TestCollector, operation: string, path: string, opts: Ask = {}) {
  const answer = await ask(on, operation, path, opts);
  answered.add(`${operation} ${answer.status}`);
  expect(checker.problems(answer), `${operation} (${path}) answered ${answer.status}`).toEqual([]);
  const isJson = answer.contentType?.startsWith('application/json') && answer.body;
  return { status: answer.status, json: isJson ? JSON.parse(answer.body as string) : undefined };
}

/**
 * A request whose body never finishes, sent on a socket: the collector answers 408 once its
 * request timeout passes, then closes the connection.
 */
async function trickle(on: TestCollector, operation: string, path: string): Promise<Answer> {
  const [method] = operation.split(' ');
  const { hostname, port } = new URL(on.url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.write(
    `${method?.toUpperCase()} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n` +
      `Authorization: Bearer ${on.adminKey}\r\n\r\n{"batch"`,
  );
  let raw = '';
  socket.on('data', (d) => {
    raw += d;
  });
  await once(socket, 'close');
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = new Headers(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
  const status = Number(statusLine?.split(' ')[1]);
  return { operation, status, contentType: headers.get('content-type'), headers, body };
}

const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
  Object.keys(ops).map((method) => `${method} ${path}`),
);
const operation = (op: string) => {
  const [method, path] = op.split(' ') as [string, string];
  return doc.paths[path][method] as { security?: unknown[]; responses: Record<string, unknown> };
};
const securedBy = (scheme: string) => (op: string) => JSON.stringify(operation(op).security ?? []).includes(scheme);
const ingestOperations = operations.filter(securedBy('writeKeyBasic'));
const adminOperations = operations.filter(securedBy('adminBearer'));
/** Operations that read a request body: Fastify parses one for POST, PATCH and DELETE before any route runs. */
const bodyOperations = operations.filter((op) => /^(post|patch|delete) /.test(op));

/** A valid body for an ingest operation, as `userId` sends it. */
function ingestBody(op: string, userId: string): Record<string, unknown> {
  const path = op.split(' ')[1] as string;
  const type = EVENT_TYPES.find((t) => path === `/v1/${t}` || path === `/v1/${t[0]}`);
  const event = { userId, event: 'Checked', groupId: 'g1', previousId: `${userId}-before` };
  return type ? event : { batch: [{ type: 'track', ...event }] };
}

beforeAll(async () => {
  [c, off, slow] = await Promise.all([
    startTestCollector({ maxBodyBytes: 20_000 }),
    startTestCollector({ identity: false }),
    startTestCollector({ requestTimeoutMs: 300 }),
  ]);
});
afterAll(async () => {
  await Promise.all([c?.close(), off?.close(), slow?.close()]);
});

describe('every answer is what the OpenAPI document says', () => {
  it('the document compiles as JSON Schema 2020-12, strictly', () => {
    checker.compileAll();
  });

  it('ingest: 200, 400, 401, 403, 413, 415 on every ingest operation', async () => {
    const created = await check(c, 'post /v1/sources', '/v1/sources', {
      auth: 'admin',
      body: JSON.stringify({ name: 'shop', allowedOrigins: ['https://shop.example'] }),
    });
    const shopKey = created.json.writeKey as string;
    for (const op of ingestOperations) {
      const path = op.split(' ')[1] as string;
      const body = JSON.stringify(ingestBody(op, 'u-ingest'));
      expect((await check(c, op, path, { auth: 'write', body })).status).toBe(200);
      const invalid = path.endsWith('batch') || path.endsWith('import') || path === '/v1/b' ? { batch: [{}] } : {};
      expect((await check(c, op, path, { auth: 'write', body: JSON.stringify(invalid) })).status).toBe(400);
      expect((await check(c, op, path, { auth: 'write', body: '{', contentType: 'application/json' })).status).toBe(
        400,
      );
      expect((await check(c, op, path, { body })).status).toBe(401);
      const foreign = { ...JSON.parse(body), writeKey: shopKey };
      const fromElsewhere = { body: JSON.stringify(foreign), headers: { origin: 'https://elsewhere.example' } };
      expect((await check(c, op, path, fromElsewhere)).status).toBe(403);
      const large = JSON.stringify({ ...JSON.parse(body), properties: { pad: 'x'.repeat(30_000) } });
      expect((await check(c, op, path, { auth: 'write', body: large })).status).toBe(413);
      expect((await check(c, op, path, { auth: 'write', body: '<x/>', contentType: 'application/xml' })).status).toBe(
        415,
      );
    }
  });

  it('every operation that reads a body: 400, 408, 413, 415', async () => {
    const answers = await Promise.all(
      bodyOperations.map((op) => trickle(slow, op, (op.split(' ')[1] as string).replace(/\{\w+\}/, '1'))),
    );
    for (const answer of answers) {
      answered.add(`${answer.operation} ${answer.status}`);
      expect(answer.status, answer.operation).toBe(408);
      expect(checker.problems(answer), answer.operation).toEqual([]);
    }
    for (const op of bodyOperations.filter((o) => !ingestOperations.includes(o))) {
      const path = (op.split(' ')[1] as string).replace(/\{\w+\}/, '1');
      const bad = { auth: 'admin' as const, body: '{', contentType: 'application/json' };
      expect((await check(c, op, path, bad)).status, op).toBe(400);
      const large = { auth: 'admin' as const, body: JSON.stringify({ name: 'x'.repeat(30_000) }) };
      expect((await check(c, op, path, large)).status, op).toBe(413);
      const xml = { auth: 'admin' as const, body: '<x/>', contentType: 'application/xml' };
      expect((await check(c, op, path, xml)).status, op).toBe(415);
    }
  });

  it('every GET: 400 for a query parameter given twice; every admin operation: 401 without the admin key', async () => {
    for (const op of operations.filter((o) => o.startsWith('get '))) {
      const path = (op.split(' ')[1] as string).replace(/\{\w+\}/, c.writeKey);
      expect((await check(c, op, `${path}?x=1&x=2`, { auth: 'admin' })).status, op).toBe(400);
    }
    for (const op of adminOperations) {
      const path = (op.split(' ')[1] as string).replace(/\{\w+\}/, '1');
      expect((await check(c, op, path, { auth: 'write' })).status, op).toBe(401);
    }
  });

  it('events and profiles: pages, lookups, trait listings, merges, history with an unmerge, export, erasure', async () => {
    const admin = { auth: 'admin' as const };
    const send = (body: unknown) =>
      check(c, 'post /v1/batch', '/v1/batch', { auth: 'write', body: JSON.stringify(body) });
    await send({
      batch: [
        {
          type: 'identify',
          userId: 'ada',
          anonymousId: 'ada-phone',
          traits: { plan: 'pro', email: 'ada@example.com' },
        },
        { type: 'track', event: 'Opened', anonymousId: 'ada-laptop' },
        { type: 'track', event: 'Alone', anonymousId: 'solo' },
        { type: 'identify', userId: 'grace', traits: { plan: 'pro' } },
        { type: 'track', event: 'No identity' },
      ],
    });
    const laptop = (await check(c, 'get /v1/profiles', '/v1/profiles?anonymousId=ada-laptop', admin)).json.id;
    // The laptop's profile merges into Ada's: its id now answers with hers and `mergedFrom`.
    await send({ batch: [{ type: 'identify', userId: 'ada', anonymousId: 'ada-laptop', traits: { plan: 'max' } }] });
    const ada = (await check(c, 'get /v1/profiles', '/v1/profiles?userId=ada', admin)).json.id as string;
    const merged = await check(c, 'get /v1/profiles/{id}', `/v1/profiles/${laptop === ada ? ada : laptop}`, admin);
    expect(merged.json.id).toBe(ada);

    const events = await check(c, 'get /v1/events', '/v1/events?limit=1', admin);
    expect(events.json.nextCursor).toEqual(expect.any(String));
    await check(c, 'get /v1/events', `/v1/events?limit=1&before=${events.json.nextCursor}`, admin);
    expect((await check(c, 'get /v1/events', '/v1/events?limit=0', admin)).status).toBe(400);

    await check(c, 'get /v1/profiles', '/v1/profiles?email=ada@example.com', admin);
    const listed = await check(c, 'get /v1/profiles', '/v1/profiles?trait.plan=pro&limit=1', admin);
    expect(listed.json.profiles).toHaveLength(1);
    await check(c, 'get /v1/profiles', `/v1/profiles?trait.plan=pro&cursor=${listed.json.nextCursor}`, admin);
    expect((await check(c, 'get /v1/profiles', '/v1/profiles', admin)).status).toBe(400);
    expect((await check(c, 'get /v1/profiles', '/v1/profiles?userId=nobody', admin)).status).toBe(404);

    const timeline = await check(c, 'get /v1/profiles/{id}/events', `/v1/profiles/${ada}/events?limit=1`, admin);
    const before = timeline.json.nextCursor as string;
    await check(c, 'get /v1/profiles/{id}/events', `/v1/profiles/${ada}/events?before=${before}`, admin);
    expect((await check(c, 'get /v1/profiles/{id}/events', `/v1/profiles/${ada}/events?before=x`, admin)).status).toBe(
      400,
    );

    const unmerge = (id: string, body: unknown) =>
      check(c, 'post /v1/profiles/{id}/unmerge', `/v1/profiles/${id}/unmerge`, {
        ...admin,
        body: JSON.stringify(body),
      });
    expect((await unmerge(ada, { type: 'anonymousId', value: 'ada-laptop' })).status).toBe(200);
    expect((await unmerge(ada, { type: 'nope' })).status).toBe(400);
    expect((await unmerge(ada, { type: 'userId', value: 'nobody' })).status).toBe(404);
    const solo = (await check(c, 'get /v1/profiles', '/v1/profiles?anonymousId=solo', admin)).json.id;
    expect((await unmerge(solo, { type: 'anonymousId', value: 'solo' })).status).toBe(409);

    const history = await check(c, 'get /v1/profiles/{id}/history', `/v1/profiles/${ada}/history`, admin);
    expect(history.json.identity.map((e: { kind: string }) => e.kind)).toContain('unmerge');
    await check(c, 'get /v1/profiles/{id}/export', `/v1/profiles/${ada}/export`, admin);

    const grace = (await check(c, 'get /v1/profiles', '/v1/profiles?userId=grace', admin)).json.id;
    expect((await check(c, 'delete /v1/profiles/{id}', `/v1/profiles/${grace}`, admin)).status).toBe(200);
    const erased = await check(c, 'get /v1/profiles/{id}/export', `/v1/profiles/${grace}/export`, admin);
    expect(erased.json).toMatchObject({ erased: true });
    for (const op of [
      'get /v1/profiles/{id}',
      'get /v1/profiles/{id}/events',
      'get /v1/profiles/{id}/history',
      'get /v1/profiles/{id}/export',
      'delete /v1/profiles/{id}',
      'post /v1/profiles/{id}/unmerge',
    ]) {
      const path = (op.split(' ')[1] as string).replace('{id}', 'p_nobody');
      const body = op.startsWith('post') ? JSON.stringify({ type: 'userId', value: 'ada' }) : undefined;
      expect((await check(c, op, path, { ...admin, body })).status, op).toBe(404);
    }
  });

  it('profiles while identity resolution is off: 409 on every profile operation', async () => {
    for (const op of operations.filter((o) => o.includes('/v1/profiles'))) {
      const path = (op.split(' ')[1] as string).replace('{id}', 'p_1');
      const query = op === 'get /v1/profiles' ? '?userId=ada' : '';
      const body = op.startsWith('post') ? JSON.stringify({ type: 'userId', value: 'ada' }) : undefined;
      expect((await check(off, op, `${path}${query}`, { auth: 'admin', body })).status, op).toBe(409);
    }
  });

  it('the overview, sources, and the live stream', async () => {
    const admin = { auth: 'admin' as const };
    await check(c, 'get /v1/stats', '/v1/stats', admin);
    const day = await check(c, 'get /v1/stats', '/v1/stats?range=day', admin);
    expect(Object.keys(day.json.rejected.byCode).length).toBeGreaterThan(0);
    expect((await check(c, 'get /v1/stats', '/v1/stats?range=week', admin)).status).toBe(400);

    await check(c, 'get /v1/sources', '/v1/sources', admin);
    const create = (body: unknown) =>
      check(c, 'post /v1/sources', '/v1/sources', { ...admin, body: JSON.stringify(body) });
    const app = await create({ name: 'app' });
    expect(app.status).toBe(201);
    expect((await create({ name: '' })).status).toBe(400);
    const patch = (id: unknown, body: unknown) =>
      check(c, 'patch /v1/sources/{id}', `/v1/sources/${id}`, { ...admin, body: JSON.stringify(body) });
    expect((await patch(app.json.id, { allowedOrigins: ['https://app.example'] })).status).toBe(200);
    expect((await patch(app.json.id, { allowedOrigins: 'https://app.example' })).status).toBe(400);
    expect((await patch(999, { name: 'x' })).status).toBe(404);
    const rotate = (id: unknown) => check(c, 'post /v1/sources/{id}/rotate-key', `/v1/sources/${id}/rotate-key`, admin);
    expect((await rotate(app.json.id)).status).toBe(200);
    // The default source's key is KIMLIK_WRITE_KEY here.
    expect((await rotate(1)).status).toBe(400);
    expect((await rotate(999)).status).toBe(404);

    expect((await check(c, 'get /v1/stream/events', '/v1/stream/events', { ...admin, stream: true })).status).toBe(200);
  });

  it('the public documents: dashboard, bundle, health, metrics, settings for analytics.js and RudderStack', async () => {
    expect((await check(c, 'get /ui', '/ui')).status).toBe(200);
    for (const file of ['app.js', 'styles.css', 'app.js.map', 'index.html'])
      expect((await check(c, 'get /ui/{file}', `/ui/${file}`)).status, file).toBe(200);
    const etag = (await ask(c, 'get /ui/{file}', '/ui/app.js')).headers.get('etag') as string;
    expect((await check(c, 'get /ui/{file}', '/ui/app.js', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await check(c, 'get /ui/{file}', '/ui/nope.js')).status).toBe(404);

    const bundleTag = (await ask(c, 'get /kimlik.js', '/kimlik.js')).headers.get('etag') as string;
    expect((await check(c, 'get /kimlik.js', '/kimlik.js')).status).toBe(200);
    expect((await check(c, 'get /kimlik.js', '/kimlik.js', { headers: { 'if-none-match': bundleTag } })).status).toBe(
      304,
    );
    for (const op of ['get /healthz', 'get /readyz', 'get /metrics', 'get /openapi.json', 'get /'])
      expect((await check(c, op, op.split(' ')[1] as string)).status, op).toBe(200);

    const settings = 'get /v1/projects/{writeKey}/settings';
    expect((await check(c, settings, `/v1/projects/${c.writeKey}/settings`)).status).toBe(200);
    expect((await check(c, settings, '/v1/projects/wk_unknown/settings')).status).toBe(401);
    expect((await check(c, 'get /sourceConfig', `/sourceConfig?writeKey=${c.writeKey}`)).status).toBe(200);
    expect((await check(c, 'get /sourceConfig', '/sourceConfig', { auth: 'write' })).status).toBe(200);
    expect((await check(c, 'get /sourceConfig', '/sourceConfig')).status).toBe(401);
  });

  it('the database file removed: 503 with Retry-After', async () => {
    const gone = await startTestCollector();
    try {
      const body = JSON.stringify({ event: 'Before', userId: 'u-gone' });
      expect((await check(gone, 'post /v1/track', '/v1/track', { auth: 'write', body })).status).toBe(200);
      // `rm -rf` of the data directory under the running process (database-removed.test.ts).
      rmSync(dirname(gone.dbPath), { recursive: true, force: true });
      expect((await check(gone, 'get /readyz', '/readyz')).status).toBe(503);
      expect((await check(gone, 'post /v1/track', '/v1/track', { auth: 'write', body })).status).toBe(503);
    } finally {
      await gone.close();
    }
  });

  it('every operation was asked, and every status it documents answered', () => {
    const missing = operations.flatMap((op) => {
      return Object.keys(operation(op).responses)
        .map(Number)
        .filter((status) => !answered.has(`${op} ${status}`) && !NOT_ASKED_HERE.some((n) => n.matches(op, status)))
        .map((status) => `${op} ${status}`);
    });
    expect(missing).toEqual([]);
  });
});
