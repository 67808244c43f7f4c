import { AppError, UnavailableError } from './errors';
import { createHttpServer, errorAnswer } from './http';
import { createLogger } from './logger';
import { createMetrics } from './metrics';

describe('createHttpServer', () => {
  it('answers 413 naming the limit that refused the body: the route’s own, else the server’s', async () => {
    const app = createHttpServer({ logger: createLogger({ name: 'test', level: 'silent' }), metrics: createMetrics('test', { defaults: false }), ready: () => true, bodyLimit: 100 });
    app.post('/small', async () => ({ ok: true }));
    app.post('/large', { bodyLimit: 1000 }, async () => ({ ok: true }));
    const post = (url: string, bytes: number) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(bytes) }) });
    expect((await post('/large', 500)).statusCode).toBe(200);
    const large = await post('/large', 2000);
    expect([large.statusCode, large.json()]).toEqual([413, { message: 'request body is larger than 1000 bytes' }]);
    const small = await post('/small', 500);
    expect([small.statusCode, small.json()]).toEqual([413, { message: 'request body is larger than 100 bytes' }]);
    await app.close();
  });

  it('serves a DELETE sent with a JSON content-type and no body, as clients that set the header on every request do', async () => {
    const app = createHttpServer({ logger: createLogger({ name: 'test', level: 'silent' }), metrics: createMetrics('test', { defaults: false }), ready: () => true });
    app.delete('/things/:id', async (_request, reply) => reply.code(204).send());
    app.post('/things', async () => ({ ok: true }));
    const json = { 'content-type': 'application/json' };
    expect((await app.inject({ method: 'DELETE', url: '/things/1', headers: json })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/things/1', headers: { ...json, 'content-length': '0' } })).statusCode).toBe(204);
    // A body that is there is still read, and refused when it is not JSON.
    const malformed = await app.inject({ method: 'DELETE', url: '/things/1', headers: json, payload: '{"a":' });
    expect([malformed.statusCode, malformed.json().message]).toEqual([400, expect.stringContaining('malformed JSON body')]);
    // A POST without its body is still a 400.
    const empty = await app.inject({ method: 'POST', url: '/things', headers: json });
    expect(empty.statusCode).toBe(400);
    await app.close();
  });
});

describe('createHttpServer: text Postgres cannot store (U+0000, half a surrogate pair)', () => {
  const app = createHttpServer({ logger: createLogger({ name: 'test', level: 'silent' }), metrics: createMetrics('test', { defaults: false }), ready: () => true });
  app.post('/things/:id', async (request) => ({ stored: request.body }));
  app.get('/things/:id', async () => ({ ok: true }));
  afterAll(() => app.close());
  const NUL = 'contains the character U+0000 (NUL), which Kana cannot store: remove it';

  it.each([
    ['a body field', { method: 'POST' as const, url: '/things/1', payload: { name: 'ok', conditions: [{ value: 'v\u0000' }] } }, `field 'conditions.0.value' ${NUL}`],
    ['a body key', { method: 'POST' as const, url: '/things/1', payload: { 'na\ud83dme': 'ok' } }, "field 'na\ud83dme' contains half of a UTF-16 surrogate pair (not valid Unicode), which Kana cannot store: remove it"],
    ['a query parameter', { method: 'GET' as const, url: '/things/1?userId=a%00b' }, `query parameter 'userId' ${NUL}`],
    ['a path segment', { method: 'GET' as const, url: '/things/a%00b' }, `path segment 'id' ${NUL}`],
  ])('answers 400 naming %s that holds it, before any handler runs', async (_what, request, message) => {
    const answer = await app.inject(request);
    expect([answer.statusCode, answer.json()]).toEqual([400, { message }]);
  });

  it('serves the same requests without it, including the escape written as text and emoji', async () => {
    const answer = await app.inject({ method: 'POST', url: '/things/1', payload: { name: 'a\\u0000b', emoji: '😀' } });
    expect([answer.statusCode, answer.json()]).toEqual([200, { stored: { name: 'a\\u0000b', emoji: '😀' } }]);
  });
});

describe('errorAnswer', () => {
  it('answers a 500 without what it wraps, and logs it', () => {
    const logged: unknown[] = [];
    const log = { error: (entry: unknown) => void logged.push(entry) };
    const answer = errorAnswer(new AppError('import customers: invalid byte sequence for encoding "UTF8": 0x00'), log);
    expect(answer).toEqual({ status: 500, body: { message: 'internal error; the request was not processed' } });
    expect(logged).toHaveLength(1);
    expect(errorAnswer(new UnavailableError('the events could not be stored; retry later'), log)).toEqual({
      status: 503,
      body: { message: 'the events could not be stored; retry later' },
      headers: { 'retry-after': '5' },
    });
  });
});
