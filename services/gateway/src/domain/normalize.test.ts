import { aTrackEvent, anIdentifyEvent, without } from './builders';
import { normalizeEvent, type NormalizeContext } from './normalize';

const ctx: NormalizeContext = { accountId: 'acc_1', receivedAt: '2024-05-02T00:00:00.000Z' };

function accepted(raw: unknown, context: NormalizeContext = ctx) {
  const result = normalizeEvent(raw, context);
  if (!result.ok) throw new Error(`expected acceptance, got ${result.rejection.status} ${result.rejection.message}`);
  return result.event;
}

function rejected(raw: unknown, context: NormalizeContext = ctx) {
  const result = normalizeEvent(raw, context);
  if (result.ok) throw new Error('expected a rejection');
  return result.rejection;
}

describe('normalizeEvent: field casing', () => {
  it.each([['userId'], ['user_id'], ['userid'], ['UserId'], ['USER_ID'], ['user-id']])('reads the user id from %s', (spelling) => {
    const event = accepted({ ...without(aTrackEvent(), 'userId'), [spelling]: 'u-42' });
    expect(event.userId).toBe('u-42');
  });

  it.each([
    ['message_id', 'messageId', 'm-1'],
    ['Event', 'event', 'Seat Added'],
    ['anonymous_id', 'anonymousId', 'anon-1'],
  ])('reads %s as %s', (spelling, field, value) => {
    const event = accepted({ ...without(aTrackEvent(), field), [spelling]: value });
    expect((event as Record<string, unknown>)[field]).toBe(value);
  });

  it('refuses two spellings with different values, naming both', () => {
    expect(rejected(aTrackEvent({ userId: 'a', user_id: 'b' }))).toEqual({
      status: 400,
      message: "conflicting values for userId: 'userId' and 'user_id' differ; send one of them",
    });
  });

  it('accepts two spellings with the same value, and ignores a null spelling', () => {
    expect(accepted(aTrackEvent({ userId: 'a', user_id: 'a' })).userId).toBe('a');
    expect(accepted(aTrackEvent({ userId: 'a', user_id: null })).userId).toBe('a');
  });
});

describe('normalizeEvent: rejections', () => {
  it.each([
    ['no userId', without(aTrackEvent(), 'userId'), 400, "anonymous events are not accepted: field 'userId' is required"],
    ['anonymousId only', { ...without(aTrackEvent(), 'userId'), anonymousId: 'a-1' }, 400, "anonymous events are not accepted: field 'userId' is required"],
    ['userId null', aTrackEvent({ userId: null }), 400, "anonymous events are not accepted: field 'userId' is required"],
    ["userId 'anonymous'", aTrackEvent({ userId: 'anonymous' }), 400, "field 'userId' is the placeholder 'anonymous', not a user id; anonymous events are not accepted"],
    ["userId 'null'", aTrackEvent({ userId: 'null' }), 400, "field 'userId' is the placeholder 'null', not a user id; anonymous events are not accepted"],
    ["userId 'undefined'", aTrackEvent({ userId: 'undefined' }), 400, "field 'userId' is the placeholder 'undefined', not a user id; anonymous events are not accepted"],
    ["userId '0'", aTrackEvent({ userId: '0' }), 400, "field 'userId' is the placeholder '0', not a user id; anonymous events are not accepted"],
    ['userId 0', aTrackEvent({ userId: 0 }), 400, "field 'userId' is the placeholder '0', not a user id; anonymous events are not accepted"],
    ['userId empty', aTrackEvent({ userId: '' }), 400, "field 'userId' is the placeholder '', not a user id; anonymous events are not accepted"],
    ['userId whitespace', aTrackEvent({ userId: '   ' }), 400, "field 'userId' is the placeholder '   ', not a user id; anonymous events are not accepted"],
    ['userId an object', aTrackEvent({ userId: { id: 1 } }), 400, "field 'userId' must be a string"],
    ['userId too long', aTrackEvent({ userId: 'u'.repeat(513) }), 400, "invalid event field 'userId': must be at most 512 characters"],
    ['no type', without(aTrackEvent(), 'type'), 400, "field 'type' is required: identify or track"],
    ['unknown type', aTrackEvent({ type: 'purchase' }), 400, "field 'type' is 'purchase': Kana accepts identify and track"],
    ['page', aTrackEvent({ type: 'page' }), 501, "call type 'page' is not supported: Kana accepts identify and track"],
    ['screen', aTrackEvent({ type: 'screen' }), 501, "call type 'screen' is not supported: Kana accepts identify and track"],
    ['group', aTrackEvent({ type: 'group' }), 501, "call type 'group' is not supported: Kana accepts identify and track"],
    ['alias', aTrackEvent({ type: 'alias' }), 501, "call type 'alias' is not supported: Kana accepts identify and track"],
    ['track without event', without(aTrackEvent(), 'event'), 400, "field 'event' is required for track: the name of the event, e.g. 'Message Sent'"],
    ['track with blank event', aTrackEvent({ event: ' ' }), 400, "field 'event' is required for track: the name of the event, e.g. 'Message Sent'"],
    ['delta a word', aTrackEvent({ properties: { delta: 'ten' } }), 400, "field 'properties.delta' must be a finite number or a numeric string"],
    ['delta a boolean', aTrackEvent({ properties: { delta: true } }), 400, "field 'properties.delta' must be a finite number or a numeric string"],
    ['delta an object', aTrackEvent({ properties: { delta: { n: 1 } } }), 400, "field 'properties.delta' must be a finite number or a numeric string"],
    ['properties an array', aTrackEvent({ properties: [1] }), 400, "field 'properties' must be an object"],
    ['traits a string', anIdentifyEvent({ traits: 'x' }), 400, "field 'traits' must be an object"],
    ['timestamp unparseable', aTrackEvent({ timestamp: 'yesterday' }), 400, "field 'timestamp' is not a valid date-time: send ISO-8601, e.g. 2024-05-01T10:00:00Z"],
    ['timestamp year 20000', aTrackEvent({ timestamp: '+020000-01-01T00:00:00Z' }), 400, "field 'timestamp' is not a valid date-time: send ISO-8601, e.g. 2024-05-01T10:00:00Z"],
    ['sentAt unparseable', aTrackEvent({ sentAt: 'soon' }), 400, "field 'sentAt' is not a valid date-time: send ISO-8601, e.g. 2024-05-01T10:00:00Z"],
    ['not an object', ['track'], 400, 'an event must be a JSON object'],
  ])('%s', (_name, raw, status, message) => {
    expect(rejected(raw)).toEqual({ status, message });
  });

  it('refuses an event over 32 KB with 413, and accepts one just under', () => {
    const big = aTrackEvent({ properties: { text: 'x'.repeat(33 * 1024) } });
    expect(rejected(big).status).toBe(413);
    expect(rejected(big).message).toMatch(/^event is \d+ bytes; the limit is 32 KB per event$/);
    accepted(aTrackEvent({ properties: { text: 'x'.repeat(31 * 1024) } }));
  });

  it('still measures each event when only the request size is known to be over the limit', () => {
    const big = aTrackEvent({ properties: { text: 'x'.repeat(33 * 1024) } });
    expect(rejected(big, { ...ctx, requestBytes: 40 * 1024 }).status).toBe(413);
    accepted(aTrackEvent(), { ...ctx, requestBytes: 1024 });
  });

  it('refuses a type that contradicts the route', () => {
    expect(rejected(anIdentifyEvent(), { ...ctx, impliedType: 'track' })).toEqual({
      status: 400,
      message: "field 'type' is 'identify' but this route accepts track events",
    });
  });
});

describe('normalizeEvent: accepted events', () => {
  it('keeps what Kana needs, fills defaults and drops unknown top-level fields', () => {
    const event = accepted({ ...without(aTrackEvent({ messageId: 'm-1', channel: 'server', version: 2 }), 'context') });
    expect(event).toEqual({
      type: 'track',
      userId: 'user-1',
      anonymousId: null,
      messageId: 'm-1',
      event: 'Message Sent',
      properties: { featureId: 'messages', delta: 1 },
      timestamp: '2024-05-01T10:00:00.000Z',
      sentAt: null,
      receivedAt: null,
      context: {},
      integrations: {},
    });
  });

  it.each([
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01 10:00:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    [1714557600000, '2024-05-01T10:00:00.000Z'],
    [1714557600, '2024-05-01T10:00:00.000Z'],
  ])('normalises timestamp %p to %p', (input, expected) => {
    expect(accepted(aTrackEvent({ timestamp: input })).timestamp).toBe(expected);
  });

  it('defaults the timestamp to the time received', () => {
    expect(accepted(without(aTrackEvent(), 'timestamp')).timestamp).toBe(ctx.receivedAt);
  });

  it.each([[undefined], [5], [-2], ['3.5'], [' 7 ']])('accepts delta %p', (delta) => {
    accepted(aTrackEvent({ properties: { delta } }));
  });

  it('reads numeric ids as their decimal text and lowercases the type', () => {
    const event = accepted(aTrackEvent({ userId: 12345, messageId: 99, type: 'Track' }));
    expect([event.type, event.userId, event.messageId]).toEqual(['track', '12345', '99']);
  });

  it('applies batch-level context, integrations and sentAt under the event’s own', () => {
    const event = accepted(aTrackEvent({ context: { ip: '1.2.3.4' } }), {
      ...ctx,
      batchDefaults: { context: { ip: '9.9.9.9', locale: 'fr' }, integrations: { All: true }, sentAt: '2024-05-01T10:00:01Z' },
    });
    expect([event.context, event.integrations, event.sentAt]).toEqual([{ ip: '1.2.3.4', locale: 'fr' }, { All: true }, '2024-05-01T10:00:01.000Z']);
  });

  it('accepts identify with traits', () => {
    const event = accepted(anIdentifyEvent());
    expect(event.type === 'identify' && event.traits.email).toBe('john.doe@example.com');
  });
});

describe('normalizeEvent: derived messageId', () => {
  const noId = without(aTrackEvent(), 'messageId');

  it('is the same for a retry (sentAt/receivedAt differ) and for other key orders and casings', () => {
    const first = accepted({ ...noId, sentAt: '2024-05-01T10:00:01Z' }).messageId;
    const retry = accepted({ ...noId, sentAt: '2024-05-01T10:05:00Z', receivedAt: '2024-05-01T10:05:01Z' }, { ...ctx, receivedAt: '2024-05-03T00:00:00.000Z' }).messageId;
    const reordered = accepted(Object.fromEntries(Object.entries({ ...without(noId, 'userId'), user_id: 'user-1' }).reverse())).messageId;
    expect(retry).toBe(first);
    expect(reordered).toBe(first);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differs when the content, the timestamp or the account differs', () => {
    const base = accepted(noId).messageId;
    expect(accepted({ ...noId, properties: { delta: 2 } }).messageId).not.toBe(base);
    expect(accepted({ ...noId, timestamp: '2024-05-01T10:00:01Z' }).messageId).not.toBe(base);
    expect(accepted(noId, { ...ctx, accountId: 'acc_2' }).messageId).not.toBe(base);
  });

  it('does not depend on the defaulted timestamp', () => {
    const noTime = without(noId, 'timestamp');
    expect(accepted(noTime).messageId).toBe(accepted(noTime, { ...ctx, receivedAt: '2025-01-01T00:00:00.000Z' }).messageId);
  });
});

describe('normalizeEvent: text Postgres cannot store (U+0000, half a surrogate pair)', () => {
  const NUL = 'contains the character U+0000 (NUL), which Kana cannot store: remove it';
  const HALF = 'contains half of a UTF-16 surrogate pair (not valid Unicode), which Kana cannot store: remove it';

  it.each([
    ['userId', aTrackEvent({ userId: 'u\u00001' }), NUL],
    ['anonymousId', aTrackEvent({ anonymousId: 'a\u0000' }), NUL],
    ['messageId', aTrackEvent({ messageId: 'm\u0000' }), NUL],
    ['event', aTrackEvent({ event: 'Sent\u0000' }), NUL],
    ['userId', { ...without(anIdentifyEvent(), 'userId'), user_id: '\u0000' }, NUL],
    // Stored as UTF-8 these would both read 'u\uFFFD': two users as one.
    ['userId', aTrackEvent({ userId: 'u\ud83d' }), HALF],
    ['messageId', anIdentifyEvent({ messageId: '\ude00m' }), HALF],
  ])('refuses it in %s with a 400 naming the field', (field, raw, what) => {
    expect(rejected(raw)).toEqual({ status: 400, message: `field '${field}' ${what}` });
  });

  it('stores it as U+FFFD in properties, traits, context and integrations, keys included, so the event still counts', () => {
    const track = accepted(aTrackEvent({ properties: { featureId: 'messages', note: 'a\u0000b', 'k\u0000': 1, half: 'x\ud83d', pair: '\ud83d\ude00' }, context: { ip: '\u0000' }, integrations: { All: '\ude00' } }));
    expect(track).toMatchObject({ properties: { featureId: 'messages', note: 'a\uFFFDb', 'k\uFFFD': 1, half: 'x\uFFFD', pair: '😀' }, context: { ip: '\uFFFD' }, integrations: { All: '\uFFFD' } });
    const identify = accepted(anIdentifyEvent({ traits: { name: 'Ann\u0000', plan: ['\u0000'] } }));
    expect(identify).toMatchObject({ traits: { name: 'Ann\uFFFD', plan: ['\uFFFD'] } });
    expect(JSON.stringify([track, identify])).not.toMatch(/\\u0000|\\ud8|\\ude/);
  });

  it('applies to the batch context every event carries', () => {
    const event = accepted(aTrackEvent({ context: undefined }), { ...ctx, batchDefaults: { context: { page: { title: 'x\u0000' } } } });
    expect(event.context).toEqual({ page: { title: 'x\uFFFD' } });
  });

  it('derives the same messageId for a retry of an event that held one', () => {
    const raw = without(aTrackEvent({ properties: { note: 'a\u0000' } }), 'messageId');
    expect(accepted(raw).messageId).toBe(accepted(raw).messageId);
  });
});

describe('normalizeEvent: ids and event names that Postgres indexes', () => {
  it.each(['userId', 'anonymousId', 'messageId', 'event'])('refuses %s over 1024 bytes of UTF-8 even within 512 characters, naming it', (field) => {
    const cjk = '漢'.repeat(342); // 1026 bytes
    expect(rejected(aTrackEvent({ [field]: cjk }))).toEqual({ status: 400, message: `field '${field}' is 1026 bytes in UTF-8; ids and event names may be at most 1024 bytes (and 512 characters)` });
  });

  it('accepts them at the limits: 341 characters of CJK, 1024 bytes, 512 ASCII characters', () => {
    expect((accepted(aTrackEvent({ event: '漢'.repeat(341) })) as { event: string }).event).toHaveLength(341);
    expect(accepted(aTrackEvent({ userId: 'é'.repeat(512) })).userId).toHaveLength(512);
    expect(accepted(aTrackEvent({ messageId: 'm'.repeat(512) })).messageId).toHaveLength(512);
  });
});
