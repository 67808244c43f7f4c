import fc from 'fast-check';
import { readTopic } from '@kana/platform/testing';
import { userKey } from '@kana/schemas';
import { MAX_NESTING } from '../domain/nesting';
import { startGateway } from '../testing/integration';
import { asStored, FREE_PARTS, SEED, validEvent, type ValidEvent } from './arbitraries';

// Issue 7: valid events are stored as sent. Random valid identify/track events
// (unicode, half surrogates, NUL, SQL/shell text, nested objects, large,
// negative and float numbers) go through the real gateway into Kafka; what a
// consumer decodes must carry the free-form parts deep-equal to the JSON the
// client sent (key order aside; U+0000 and half surrogates, which Postgres
// cannot store, as U+FFFD) and the ids exactly as sent.

let gw: Awaited<ReturnType<typeof startGateway>>;
let account: { accountId: string; apiKey: string };

beforeAll(async () => {
  gw = await startGateway();
  account = await gw.gateway.accounts.createAccount('Fuzz');
}, 180_000);
afterAll(() => gw?.stop(), 60_000);
jest.setTimeout(120_000);

const fits = (event: ValidEvent) => Buffer.byteLength(JSON.stringify(event)) <= 30 * 1024;

/** Events at the edges the random ones rarely reach: maximum nesting, extreme numbers. */
function edgeEvents(): ValidEvent[] {
  let deep: unknown = 'bottom';
  for (let level = 1; level < MAX_NESTING; level++) deep = level % 2 ? [deep] : { [`l${level}`]: deep };
  const numbers = { max: Number.MAX_VALUE, min: -Number.MAX_VALUE, tiny: 5e-324, unsafe: 2 ** 53 + 2, negative: -123456789.987654321, zero: -0, exp: 1e21 };
  return [
    { type: 'identify', userId: 'edge-deep', messageId: 'edge-deep', timestamp: '2024-05-01T10:00:00.000Z', traits: { deep }, context: { numbers }, integrations: { All: false, 'Kana Ingest': true } },
    { type: 'track', userId: 'edge-numbers', messageId: 'edge-numbers', event: 'Número ✓', timestamp: '2024-05-01T10:00:00.000Z', properties: { ...numbers, delta: -0.5 }, context: {}, integrations: {} },
  ];
}

it('stores ~100 random valid events with free-form parts deep-equal to what was sent and ids exactly as sent', async () => {
  const random = fc.sample(validEvent.filter(fits), { seed: SEED, numRuns: 98 });
  // Ids must be unique here only to pair sent and stored events; the random part is kept.
  const events = [...edgeEvents(), ...random.map((event, i) => ({ ...event, messageId: `fz${i}:${event.messageId}` }))];
  const authorization = `Basic ${Buffer.from(`${account.apiKey}:`).toString('base64')}`;

  // Most in batches (a few requests), some one by one through each single-event route.
  const singles = events.slice(0, 12);
  for (const [i, event] of singles.entries()) {
    const route = i % 2 ? '/v1/segment' : `/v1/${event.type}`;
    const response = await gw.post(route, event, authorization);
    expect([route, response.status, await response.text()]).toEqual([route, 200, '{"message":"ok"}']);
  }
  for (let start = 12; start < events.length; start += 22) {
    const batch = events.slice(start, start + 22);
    const response = await gw.post('/v1/batch', { batch }, authorization);
    expect([response.status, await response.json()]).toEqual([200, { accepted: batch.length, rejected: [] }]);
  }

  const want = (type: 'identify' | 'track') => new Set(events.filter((event) => event.type === type).map((event) => event.messageId));
  const read = async (type: 'identify' | 'track') => {
    const ids = want(type);
    const messages = await readTopic(gw.gateway.codec, type, (all) => all.filter((m) => ids.has(m.value.event.messageId)).length >= ids.size, { timeoutMs: 60_000 });
    return messages.filter((m) => ids.has(m.value.event.messageId));
  };
  const stored = [...(await read('identify')), ...(await read('track'))];
  expect(stored).toHaveLength(events.length);

  const byId = new Map(stored.map((message) => [message.value.event.messageId, message]));
  for (const event of events) {
    const sent = asStored(event) as Record<string, unknown>;
    const message = byId.get(event.messageId)!;
    const got = message.value.event as Record<string, unknown>;
    // Exact ids (===, not normalised). The Kafka key only partitions (a user's events in
    // order); it travels as UTF-8, where a half surrogate becomes U+FFFD, still one key per user.
    expect([got.messageId === event.messageId, got.userId === event.userId, message.key]).toEqual([true, true, Buffer.from(userKey(account.accountId, event.userId)).toString()]);
    for (const part of FREE_PARTS) {
      if (part in sent) expect({ messageId: event.messageId, part, value: got[part] }).toEqual({ messageId: event.messageId, part, value: sent[part] });
    }
    if (event.type === 'track') expect(got.event).toBe(event.event);
  }
});
