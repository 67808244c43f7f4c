import { gzipSync } from 'node:zlib';
import type { Logger } from '@kana/platform';
import { aTrackEvent } from '../domain/builders';
import { appUnderTest, basic, closeApps, KEY } from '../testing/app-under-test';

afterEach(closeApps);

// The ingest routes are served by ingestListener on node:http, ahead of fastify. What
// fastify did for them (framing, parsing, refusals, closing, logs) must still hold.

const auth = { authorization: basic(KEY) };

describe('the ingest listener', () => {
  it('answers 415 for a body that is not JSON, storing nothing', async () => {
    const app = appUnderTest();
    const response = await app.inject({ method: 'POST', url: '/v1/track', payload: 'userId=user-1', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } });
    expect([response.statusCode, response.json()]).toEqual([415, { message: 'content-type must be application/json' }]);
    expect(app.sink.stored).toHaveLength(0);
  });

  it('accepts a JSON content-type with parameters or in capitals', async () => {
    const app = appUnderTest();
    for (const type of ['application/json; charset=utf-8', 'APPLICATION/JSON']) {
      const response = await app.inject({ method: 'POST', url: '/v1/track', payload: JSON.stringify(aTrackEvent()), headers: { ...auth, 'content-type': type } });
      expect(response.statusCode).toBe(200);
    }
    expect(app.sink.events).toHaveLength(2);
  });

  it.each([
    ['an empty JSON body', '', 'malformed JSON body: the body is empty'],
    ['a __proto__ key', '{"type":"track","userId":"u","event":"e","properties":{"__proto__":{"x":1}}}', 'malformed JSON body: Object contains forbidden prototype property'],
    ['a constructor.prototype key', '{"type":"track","userId":"u","event":"e","properties":{"constructor":{"prototype":{"x":1}}}}', 'malformed JSON body: Object contains forbidden prototype property'],
  ])('answers 400 for %s', async (_name, payload, message) => {
    const app = appUnderTest();
    const response = await app.inject({ method: 'POST', url: '/v1/track', payload, headers: { ...auth, 'content-type': 'application/json' } });
    expect([response.statusCode, response.json()]).toEqual([400, { message }]);
    expect(app.sink.stored).toHaveLength(0);
  });

  it('looks for U+0000 and half surrogates in every body that carries a \\u escape, and only there can they be', async () => {
    const app = appUnderTest();
    const headers = { ...auth, 'content-type': 'application/json' };
    // JSON.stringify writes U+0000 and a lone surrogate as \u escapes, as any client's encoder does.
    const stored = await app.inject({ method: 'POST', url: '/v1/track', payload: JSON.stringify(aTrackEvent({ messageId: 'esc-1', properties: { note: 'a\u0000', half: '\ud83d', pair: '\u00e9' } })), headers });
    expect([stored.statusCode, app.sink.events[0]?.type === 'track' && app.sink.events[0].properties]).toEqual([200, { note: 'a\uFFFD', half: '\uFFFD', pair: 'é' }]);
    const refused = await app.inject({ method: 'POST', url: '/v1/batch', payload: JSON.stringify({ batch: [aTrackEvent({ userId: 'u\u0000' }), aTrackEvent({ messageId: 'esc-2' })] }), headers });
    expect([refused.statusCode, refused.json()]).toEqual([
      200,
      { accepted: 1, rejected: [{ index: 0, message: "field 'userId' contains the character U+0000 (NUL), which Kana cannot store: remove it" }] },
    ]);
    expect(app.sink.events.map((event) => event.messageId)).toEqual(['esc-1', 'esc-2']);
  });

  it('reads gzip bodies (Segment’s Java library sends them, to /v1/import) and holds the limit to what they inflate to', async () => {
    const app = appUnderTest();
    const gzip = (value: unknown) => gzipSync(Buffer.from(JSON.stringify(value)));
    const headers = { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const one = await app.inject({ method: 'POST', url: '/v1/track', payload: gzip(aTrackEvent({ messageId: 'gz-1' })), headers });
    expect([one.statusCode, one.json()]).toEqual([200, { message: 'ok' }]);
    const batch = await app.inject({ method: 'POST', url: '/v1/import', payload: gzip({ batch: [aTrackEvent({ messageId: 'gz-2' }), aTrackEvent({ messageId: 'gz-3' })] }), headers: { ...headers, 'content-encoding': 'x-gzip' } });
    expect([batch.statusCode, batch.json()]).toEqual([200, { accepted: 2, rejected: [] }]);
    expect(app.sink.events.map((event) => event.messageId)).toEqual(['gz-1', 'gz-2', 'gz-3']);

    // 600 KB of spaces compress to under 1 KB: refused as too large, never parsed.
    const bomb = await app.inject({ method: 'POST', url: '/v1/batch', payload: gzipSync(Buffer.from(`{"batch":[]${' '.repeat(600_000)}}`)), headers });
    expect([bomb.statusCode, bomb.json()]).toEqual([413, { message: 'request body is larger than 512000 bytes' }]);
    const broken = await app.inject({ method: 'POST', url: '/v1/track', payload: JSON.stringify(aTrackEvent()), headers });
    expect([broken.statusCode, broken.json()]).toEqual([400, { message: 'malformed gzip body: incorrect header check' }]);
    const brotli = await app.inject({ method: 'POST', url: '/v1/track', payload: JSON.stringify(aTrackEvent()), headers: { ...headers, 'content-encoding': 'br' } });
    expect([brotli.statusCode, brotli.json()]).toEqual([415, { message: "content-encoding 'br' is not supported: send the body as is or gzip-compressed" }]);
    expect(app.sink.events).toHaveLength(3);
  });

  it('answers a request without a body as an event that is not an object', async () => {
    const app = appUnderTest();
    const response = await app.inject({ method: 'POST', url: '/v1/track', headers: auth });
    expect([response.statusCode, response.json()]).toEqual([400, { message: 'an event must be a JSON object' }]);
  });

  it('serves the ingest routes with a query string, and leaves other spellings and methods to fastify', async () => {
    const app = appUnderTest();
    expect((await app.inject({ method: 'POST', url: '/v1/track?source=web', payload: aTrackEvent(), headers: auth })).statusCode).toBe(200);
    const trailing = await app.inject({ method: 'POST', url: '/v1/track/', payload: aTrackEvent(), headers: auth });
    expect([trailing.statusCode, trailing.json()]).toEqual([404, { message: 'no route POST /v1/track/' }]);
    // Fastify's: the ingest routes' other methods get its 405 (routes/ingest.ts).
    expect((await app.inject({ method: 'GET', url: '/v1/track', headers: auth })).statusCode).toBe(405);
    expect(app.sink.events).toHaveLength(1);
  });

  it('answers 503 with Retry-After once the server is closing', async () => {
    const app = appUnderTest();
    await app.app.ready();
    await app.app.close();
    const response = await app.inject({ method: 'POST', url: '/v1/track', payload: aTrackEvent(), headers: auth });
    expect([response.statusCode, response.json()]).toEqual([503, { message: 'the gateway is shutting down; retry later' }]);
    expect(response.headers['retry-after']).toBe('5');
    expect(app.sink.stored).toHaveLength(0);
  });

  it('keeps the server settings fastify gives its own servers (keep-alive longer than a balancer idle timeout)', () => {
    const { app } = appUnderTest();
    expect([app.server.keepAliveTimeout, app.server.requestTimeout, app.server.timeout]).toEqual([72_000, 0, 0]);
  });

  it('logs one line per request with its route and status, never the key or the payload', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = appUnderTest({ logger: recordingLogger(lines) });
    await app.request('POST', '/v1/track', { body: aTrackEvent({ properties: { secret: 'payload-text' } }), headers: auth });
    await app.request('POST', '/v1/track', { body: aTrackEvent(), headers: { authorization: basic('kana_live_unknown') } });
    const completed = lines.filter((line) => line.msg === 'request completed');
    expect(completed.map((line) => [line.req, line.res])).toEqual([
      [{ method: 'POST', url: '/v1/track' }, { statusCode: 200 }],
      [{ method: 'POST', url: '/v1/track' }, { statusCode: 401 }],
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('payload-text');
  });
});

/** A logger that keeps what it is given (with its bindings), enough for fastify and the listener. */
function recordingLogger(lines: Record<string, unknown>[], bindings: Record<string, unknown> = {}): Logger {
  const logger: Record<string, unknown> = {
    level: 'info',
    isLevelEnabled: (level: string) => level !== 'trace' && level !== 'debug',
    child: (more: Record<string, unknown>) => recordingLogger(lines, { ...bindings, ...more }),
  };
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
    logger[level] = (object: unknown, message?: string) => {
      if (level === 'trace' || level === 'debug') return;
      lines.push({ level, ...bindings, ...(typeof object === 'object' && object !== null ? object : { msg: object }), ...(message ? { msg: message } : {}) });
    };
  }
  return logger as unknown as Logger;
}
