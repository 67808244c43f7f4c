import fc from 'fast-check';
import { MAX_NESTING } from '../domain/nesting';
import { closeApps } from '../testing/app-under-test';
import { asStored, nastyString, ROUTES, type Route, SEED, validEvent, validIdentify, validTrack } from './arbitraries';
import { type Auth, authHeader, checkAnswer, harness, tryParse, wrap } from './harness';

// Property-based fuzzing of the ingest routes (issue 7): whatever a sender
// posts, the gateway answers < 500 with a clean `{ message }`, stores exactly
// what it said it accepted, and leaves the process and its prototypes intact.

const gw = harness();
afterAll(closeApps);
jest.setTimeout(60_000);

const route = fc.constantFrom(...ROUTES);
const auth = fc.constantFrom<Auth>('basic', 'bearer');
const run = (property: fc.IAsyncProperty<any>, numRuns: number) => fc.assert(property, { seed: SEED, numRuns });

async function send(to: Route, text: string | Buffer, by: Auth) {
  const outcome = await gw.post(to, text, { authorization: authHeader(by) });
  checkAnswer(outcome, typeof text === 'string' ? text : undefined);
  return outcome;
}

describe('ingest fuzzing: malformed bodies', () => {
  // Mutations that turn JSON into near-JSON: the parser's edge cases live there.
  const mutated = fc
    .tuple(fc.oneof(fc.json(), validEvent.map((event) => JSON.stringify(event))), fc.nat(), fc.constantFrom('truncate', 'delete', 'insert', 'duplicate'), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }))
    .map(([text, at, how, extra]) => {
      const i = at % (text.length + 1);
      if (how === 'truncate') return text.slice(0, i);
      if (how === 'delete') return text.slice(0, i) + text.slice(i + 1);
      if (how === 'insert') return text.slice(0, i) + extra + text.slice(i);
      return text.slice(0, i) + text.slice(i / 2, i) + text.slice(i);
    });

  it('answers any text body below 500, with a clean message when refusing', () =>
    run(fc.asyncProperty(route, auth, fc.oneof(fc.string({ unit: 'binary' }), fc.json(), mutated, fc.constantFrom('', ' ', 'null', '[]', '{}', '""', '{"batch":null}', '{"batch":[]}', '{"batch":[null]}', '{"batch":{}}')), async (to, by, text) => {
      await send(to, text, by);
    }), 1_500));

  it('answers random bytes and invalid UTF-8 inside valid JSON below 500', () => {
    const invalidUtf8 = fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xfe, 0xfe, 0xff]);
    const spliced = fc.tuple(validEvent, fc.constantFrom('userId', 'messageId', 'event'), invalidUtf8).map(([event, field, bytes]) => {
      const [before, after] = JSON.stringify({ ...event, [field]: 'MARK' }).split('MARK') as [string, string];
      return Buffer.concat([Buffer.from(`${before}x`), Buffer.from(bytes), Buffer.from(`y${after}`)]);
    });
    return run(fc.asyncProperty(route, auth, fc.oneof(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), spliced), async (to, by, bytes) => {
      await send(to, bytes, by);
    }), 600);
  });
});

describe('ingest fuzzing: wrong types', () => {
  const FIELDS = ['type', 'userId', 'user_id', 'UserID', `user${'_-'.repeat(3_000)}id`, 'anonymousId', 'messageId', 'event', 'timestamp', 'sentAt', 'receivedAt', 'traits', 'properties', 'context', 'integrations', 'properties.delta'];
  const wrongValue = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 10 }),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  );

  it('refuses a wrong-typed field with a message naming it, or accepts it, never 5xx', () =>
    run(fc.asyncProperty(route, auth, validEvent, fc.constantFrom(...FIELDS), wrongValue, async (to, by, event, field, value) => {
      const sent: Record<string, any> = structuredClone(event);
      if (field === 'properties.delta') sent.properties = { ...sent.properties, delta: value };
      else sent[field] = value;
      const outcome = await send(to, wrap(to, JSON.stringify(sent)), by);
      const message: string = tryParse(outcome.body)?.message ?? '';
      // Naming is checked where the field is the only problem: the event's type matches the route and null is not "absent".
      const routeType = to === '/v1/identify' || to === '/v1/track' ? to.slice(4) : event.type;
      if (outcome.status >= 400 && value !== null && routeType === event.type) {
        const named = field === 'properties.delta' ? 'delta' : field.toLowerCase().replace(/[_-]/g, '') === 'userid' ? 'userId' : field;
        expect(message).toContain(named);
      }
    }), 1_200));

  it('refuses wrong-typed batch and batch-level fields cleanly', () =>
    run(fc.asyncProperty(fc.constantFrom<Route>('/v1/batch', '/v1/segment'), auth, validEvent, fc.constantFrom('batch', 'context', 'integrations', 'sentAt'), wrongValue, async (to, by, event, field, value) => {
      const body = field === 'batch' ? { batch: value } : { batch: [event], [field]: value };
      await send(to, JSON.stringify(body), by);
    }), 500));
});

describe('ingest fuzzing: sizes and nesting', () => {
  const sizes = fc.oneof(fc.integer({ min: 32 * 1024 - 400, max: 32 * 1024 + 100 }), fc.integer({ min: 500 * 1024 - 300, max: 500 * 1024 + 100 }), fc.integer({ min: 1, max: 600_000 }));
  const places = fc.constantFrom('userId', 'messageId', 'event', 'traits', 'properties', 'context', 'integrations', 'channel');

  it('answers huge strings at and beyond the 32 KB / 500 KB limits with 413 or 2xx, never 5xx', () =>
    run(fc.asyncProperty(route, validEvent, places, sizes, fc.constantFrom('x', 'é', '😀', '\u0000', '"'), async (to, event, place, size, char) => {
      const huge = char.repeat(Math.ceil(size / Buffer.byteLength(JSON.stringify(char).slice(1, -1))));
      const sent: Record<string, unknown> = { ...event, [place]: ['traits', 'properties', 'context', 'integrations'].includes(place) ? { note: huge } : huge };
      const text = wrap(to, JSON.stringify(sent));
      const outcome = await send(to, text, 'basic');
      // Over either limit the answer is 413, for a single event and for a batch whose only event is too large.
      if (Buffer.byteLength(text) > 500 * 1024 || Buffer.byteLength(JSON.stringify(sent)) > 32 * 1024) expect(outcome.status).toBe(413);
    }), 120));

  it('counts a batch-level context or integrations, which every event carries, against the 32 KB per event', () =>
    run(fc.asyncProperty(fc.array(validEvent, { minLength: 1, maxLength: 20 }), fc.constantFrom('context', 'integrations'), sizes, async (events, field, size) => {
      const text = JSON.stringify({ [field]: { note: 'x'.repeat(size) }, batch: events });
      const outcome = await send('/v1/batch', text, 'bearer');
      if (size > 32 * 1024) expect(outcome.status).toBe(413);
    }), 60));

  it('survives 10,000 levels of nesting anywhere in the body without a 5xx', () => {
    const depth = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1_000, max: 12_000 }), fc.constant(10_000));
    const nest = (kind: 'array' | 'object', levels: number) => (kind === 'array' ? `${'['.repeat(levels)}1${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
    const where = fc.constantFrom('traits', 'properties', 'context', 'integrations', 'channel', 'userId', 'batch.context', 'body');
    return run(fc.asyncProperty(route, auth, validEvent, depth, fc.constantFrom<'array' | 'object'>('array', 'object'), where, fc.boolean(), async (to, by, event, levels, kind, at, withMessageId) => {
      const base: Record<string, unknown> = { ...event };
      if (!withMessageId) delete base.messageId; // a derived messageId serialises the whole event
      const deep = nest(kind, levels);
      let text: string;
      if (at === 'body') text = deep;
      else if (at === 'batch.context') text = `{"context":{"x":${deep}},"batch":[${JSON.stringify(base)}]}`;
      else {
        const [before, after] = JSON.stringify({ ...base, [at]: at === 'userId' || at === 'channel' ? 'MARK' : { x: 'MARK' } }).split('"MARK"') as [string, string];
        text = wrap(to, `${before}${deep}${after}`);
      }
      const outcome = await send(at === 'batch.context' ? '/v1/batch' : to, text, by);
      // The deep value sits one level below the field ({ x: deep }) except in userId and channel.
      const fieldLevels = levels + (at === 'userId' || at === 'channel' ? 0 : 1);
      if (at !== 'body' && fieldLevels > MAX_NESTING) {
        expect([outcome.status, tryParse(outcome.body)?.message]).toEqual([400, expect.stringContaining(`nests objects and arrays deeper than ${MAX_NESTING} levels`)]);
      }
    }), 150);
  });
});

describe('ingest fuzzing: hostile keys and strings', () => {
  // Objects whose keys are the ones prototype-pollution exploits use, at every level.
  const POISON = ['__proto__', 'constructor', 'prototype', 'polluted', 'isAdmin', 'toString'];
  type Tree = { keys: [string, Tree | number][] } | number;
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.record({ keys: fc.array(fc.tuple(fc.constantFrom(...POISON), tie('tree')), { maxLength: 3 }) })),
  }));
  const text = (value: Tree): string => (typeof value === 'number' ? String(value) : `{${value.keys.map(([key, item]) => `${JSON.stringify(key)}:${text(item)}`).join(',')}}`);
  const before = { object: Object.getOwnPropertyNames(Object.prototype).sort(), array: Object.getOwnPropertyNames(Array.prototype).sort() };
  const plain = new Map(POISON.map((key) => [key, ({} as Record<string, unknown>)[key]]));

  it('never lets __proto__/constructor/prototype keys pollute prototypes, at any level', async () => {
    await run(fc.asyncProperty(route, auth, validEvent, fc.constantFrom('top', 'traits', 'properties', 'context', 'integrations', 'batch'), tree, async (to, by, event, at, poison) => {
      const inner = typeof poison === 'number' ? { keys: [['__proto__', { keys: [['polluted', 1]] }]] as [string, Tree][] } : poison;
      const json = JSON.stringify(event);
      let body: string;
      if (at === 'top') body = wrap(to, `{${text(inner).slice(1, -1)}${inner.keys.length ? ',' : ''}${json.slice(1)}`);
      else if (at === 'batch') body = `{${text(inner).slice(1, -1)}${inner.keys.length ? ',' : ''}"batch":[${json}]}`;
      else body = wrap(to, json.replace(/}$/, `,"${at}":${text(inner)}}`));
      await send(at === 'batch' ? '/v1/batch' : to, body, by);
    }), 800);
    for (const key of POISON) expect([key, ({} as Record<string, unknown>)[key] === plain.get(key)]).toEqual([key, true]);
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).isAdmin).toBeUndefined();
    expect([Object.getOwnPropertyNames(Object.prototype).sort(), Object.getOwnPropertyNames(Array.prototype).sort()]).toEqual([before.object, before.array]);
  });

  it('stores valid events with SQL/shell metacharacters, emoji and RTL as sent, and NUL or half surrogates in free-form parts as U+FFFD', () =>
    run(fc.asyncProperty(auth, fc.array(validEvent, { minLength: 1, maxLength: 5 }), fc.nat(), async (by, events, pick) => {
      const single = events[0]!;
      const to: Route = events.length > 1 ? '/v1/batch' : (['/v1/segment', `/v1/${single.type}`] as const)[pick % 2]!;
      const sent = events.map(asStored);
      const outcome = await send(to, to === '/v1/batch' ? JSON.stringify({ batch: events }) : JSON.stringify(single), by);
      expect(outcome.status).toBe(200);
      expect(outcome.stored.map(({ type, userId, messageId }) => ({ type, userId, messageId }))).toEqual(sent.map(({ type, userId, messageId }) => ({ type, userId, messageId })));
      outcome.stored.forEach((stored, i) => {
        // toEqual, not toStrictEqual: an own 'constructor' key defeats the latter's class check.
        expect(stored).toEqual({ ...sent[i], anonymousId: null, sentAt: null, receivedAt: null });
      });
    }), 300));

  it('refuses every malformed or unknown Authorization with 401 and stores nothing', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
    const header = fc.oneof(
      printable,
      printable.map((text) => `Basic ${text}`),
      fc.string({ unit: 'binary' }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
      nastyString.map((text) => `Basic ${Buffer.from(`${text}:`).toString('base64')}`),
      printable.map((text) => `Bearer ${text}`),
      printable.map((text) => `bEaReR  ${text}  `),
    );
    return run(fc.asyncProperty(route, header, validTrack, async (to, authorization, event) => {
      const outcome = await gw.post(to, wrap(to, JSON.stringify({ ...event, type: to === '/v1/identify' ? 'identify' : 'track' })), { authorization });
      checkAnswer(outcome);
      expect(outcome.status).toBe(401);
    }), 600);
  });

  it('refuses an unauthenticated request before reading its body, whatever the body', () =>
    run(fc.asyncProperty(route, fc.oneof(fc.string(), validIdentify.map((event) => JSON.stringify(event))), async (to, text) => {
      const outcome = await gw.post(to, text);
      checkAnswer(outcome);
      expect(outcome.status).toBe(401);
    }), 300));
});

describe('ingest fuzzing: request framing', () => {
  const contentType = fc.oneof(
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/*', ''),
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 }),
  );
  const url = fc.oneof(route, fc.tuple(route, fc.constantFrom('?', '/', '//', '?a=1&a=2', '%00', '/..', '#x', '?__proto__[polluted]=1')).map(([to, tail]) => to + tail), route.map((to) => to.toUpperCase()));

  it('answers any content-type, method and URL variant below 500 with a clean message', () =>
    run(fc.asyncProperty(url, fc.constantFrom('POST', 'PUT', 'GET', 'DELETE', 'PATCH', 'OPTIONS'), contentType, validEvent, async (path, method, type, event) => {
      gw.app.sink.stored.length = 0;
      const response = await gw.app.inject({ method: method as 'POST', url: path, payload: method === 'GET' ? undefined : JSON.stringify(event), headers: { 'content-type': type, authorization: authHeader('basic') } });
      checkAnswer({ status: response.statusCode, body: response.body, stored: gw.app.sink.events });
    }), 400));
});
