import { createHttpServer } from './http';
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
