import { isExactReprocessMessage, isExactTrackMessage } from './codec-fast-path';
import { reprocessMessage, trackMessage } from './messages';

// The fast path may only say yes where zod accepts the value and returns an equal one; where it says no,
// zod decides as before. Every case below is checked against zod itself, not against an expectation.

const aTrack = () => ({
  schemaVersion: 1,
  accountId: 'acc_1',
  requestId: 'req-1',
  receivedAt: '2026-11-28T10:00:00.000Z',
  event: {
    type: 'track',
    messageId: 'm1',
    userId: 'u1',
    timestamp: '2026-11-28T09:59:59.000Z',
    context: { ip: '1.2.3.4' },
    integrations: {},
    event: 'Message Sent',
    properties: { featureId: 'messages', delta: 2, nested: { a: [1, 'b'] } },
  },
});
const aReprocess = () => ({ ...aTrack(), jobId: 'job-1', minRulesVersion: 3 });

type Value = Record<string, unknown>;
const withEvent = (change: (event: Value) => void) => (message: Value) => change(message.event as Value);

/** Each variant is applied to a fresh message, then the message goes through JSON as the codec reads it. */
const variants: [string, (message: Value) => void][] = [
  ['as built', () => undefined],
  ['keys in another order', (m) => {
    const event = m.event;
    delete m.event;
    m.event = event;
    const id = m.accountId;
    delete m.accountId;
    m.accountId = id;
  }],
  ['optional fields present', withEvent((e) => Object.assign(e, { anonymousId: 'anon', sentAt: '2026-11-28T09:59:59Z', receivedAt: '2026-11-28T09:59:59.123456Z' }))],
  ['optional fields null', withEvent((e) => Object.assign(e, { anonymousId: null, sentAt: null, receivedAt: null }))],
  ['empty anonymousId', withEvent((e) => (e.anonymousId = ''))],
  ['anonymousId of 512', withEvent((e) => (e.anonymousId = 'a'.repeat(512)))],
  ['anonymousId of 513', withEvent((e) => (e.anonymousId = 'a'.repeat(513)))],
  ['anonymousId a number', withEvent((e) => (e.anonymousId = 5))],
  ['messageId of 512', withEvent((e) => (e.messageId = 'm'.repeat(512)))],
  ['messageId of 513 units', withEvent((e) => (e.messageId = 'm'.repeat(513)))],
  ['userId of 300 emoji (600 units, 300 code points)', withEvent((e) => (e.userId = '😀'.repeat(300)))],
  ['userId of 600 emoji', withEvent((e) => (e.userId = '😀'.repeat(600)))],
  ['event name empty', withEvent((e) => (e.event = ''))],
  ['event name a number', withEvent((e) => (e.event = 3))],
  ['messageId empty', withEvent((e) => (e.messageId = ''))],
  ['userId missing', withEvent((e) => delete e.userId)],
  ['userId null', withEvent((e) => (e.userId = null))],
  ['type identify', withEvent((e) => (e.type = 'identify'))],
  ['type missing', withEvent((e) => delete e.type)],
  ['timestamp without zone', withEvent((e) => (e.timestamp = '2026-11-28T09:59:59'))],
  ['timestamp a number', withEvent((e) => (e.timestamp = 1764323999000))],
  ['timestamp missing', withEvent((e) => delete e.timestamp)],
  ['sentAt malformed', withEvent((e) => (e.sentAt = 'yesterday'))],
  ['properties an array', withEvent((e) => (e.properties = [1, 2]))],
  ['properties null', withEvent((e) => (e.properties = null))],
  ['properties missing', withEvent((e) => delete e.properties)],
  ['properties with __proto__', () => undefined],
  ['context a string', withEvent((e) => (e.context = 'x'))],
  ['integrations missing', withEvent((e) => delete e.integrations)],
  ['unknown event key', withEvent((e) => (e.page = 'home'))],
  ['unknown envelope key', (m) => (m.extra = true)],
  ['schemaVersion 2', (m) => (m.schemaVersion = 2)],
  ['schemaVersion "1"', (m) => (m.schemaVersion = '1')],
  ['accountId empty', (m) => (m.accountId = '')],
  ['accountId long', (m) => (m.accountId = 'a'.repeat(2000))],
  ['requestId missing', (m) => delete m.requestId],
  ['receivedAt malformed', (m) => (m.receivedAt = '28/11/2026')],
  ['event null', (m) => (m.event = null)],
  ['event an array', (m) => (m.event = [])],
  ['jobId present', (m) => (m.jobId = 'job-2')],
  ['jobId empty', (m) => (m.jobId = '')],
  ['minRulesVersion present', (m) => (m.minRulesVersion = 0)],
  ['minRulesVersion negative', (m) => (m.minRulesVersion = -1)],
  ['minRulesVersion fractional', (m) => (m.minRulesVersion = 1.5)],
  ['minRulesVersion beyond safe integers', (m) => (m.minRulesVersion = 2 ** 53)],
  ['minRulesVersion a string', (m) => (m.minRulesVersion = '3')],
  ['jobId missing', (m) => delete m.jobId],
  ['minRulesVersion missing', (m) => delete m.minRulesVersion],
];

/** JSON text with an own `__proto__` key in properties, which JSON.parse keeps and zod drops. */
function throughJson(name: string, message: Value): unknown {
  const text = JSON.stringify(message);
  return JSON.parse(name === 'properties with __proto__' ? text.replace('"properties":{', '"properties":{"__proto__":{"x":1},') : text);
}

describe.each([
  ['track', aTrack, isExactTrackMessage, trackMessage],
  ['reprocess', aReprocess, isExactReprocessMessage, reprocessMessage],
] as const)('the %s fast path agrees with zod', (_topic, build, isExact, schema) => {
  it.each(variants)('%s', (name, change) => {
    const message = build() as Value;
    change(message);
    const raw = throughJson(name, message);
    const zod = schema.safeParse(raw);
    if (isExact(raw)) {
      expect(zod.success).toBe(true);
      expect(raw).toStrictEqual(zod.data);
    }
  });

  it.each(['as built', 'keys in another order', 'optional fields present', 'optional fields null', 'empty anonymousId', 'messageId of 512'])(
    'takes the fast path for a message %s',
    (name) => {
      const message = build() as Value;
      variants.find(([variant]) => variant === name)![1](message);
      expect(isExact(throughJson(name, message))).toBe(true);
    },
  );

  it('leaves an own __proto__ key to zod', () => {
    expect(isExact(throughJson('properties with __proto__', build()))).toBe(false);
  });
});

it('says no to the other topic of the pair', () => {
  expect(isExactTrackMessage(JSON.parse(JSON.stringify(aReprocess())))).toBe(false);
  expect(isExactReprocessMessage(JSON.parse(JSON.stringify(aTrack())))).toBe(false);
});
