import { gzipSync } from 'node:zlib';
import { readTopic, waitFor } from '@kana/platform/testing';
import { aTrackEvent, anIdentifyEvent, without } from './domain/builders';
import { buildCli, kana, startGateway } from './testing/integration';

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const bearer = (key: string) => `Bearer ${key}`;

let gw: Awaited<ReturnType<typeof startGateway>>;
let account: { accountId: string; apiKey: string };

beforeAll(async () => {
  await buildCli();
  gw = await startGateway({ KEY_CACHE_TTL_MS: '500', USAGE_URL: 'http://127.0.0.1:65535' });
  account = await gw.gateway.accounts.createAccount('Acme');
}, 180_000);
afterAll(() => gw?.stop(), 60_000);
jest.setTimeout(60_000);

describe('gateway on the real stack', () => {
  it('stores each accepted event on its topic, keyed accountId:userId, as a decodable envelope', async () => {
    const track = aTrackEvent({ userId: 'u-track', messageId: 'it-track-1' });
    const identify = anIdentifyEvent({ user_id: 'u-ident', userId: undefined, messageId: 'it-ident-1' });
    expect((await gw.post('/v1/segment', track, basic(account.apiKey))).status).toBe(200);
    expect((await gw.post('/v1/identify', identify, bearer(account.apiKey))).status).toBe(200);

    const tracks = await readTopic(gw.gateway.codec, 'track', (messages) => messages.some((m) => m.value.event.messageId === 'it-track-1'));
    const stored = tracks.find((m) => m.value.event.messageId === 'it-track-1')!;
    expect(stored.key).toBe(`${account.accountId}:u-track`);
    expect(stored.value).toMatchObject({ schemaVersion: 1, accountId: account.accountId, event: { type: 'track', event: 'Message Sent', properties: { delta: 1 } } });
    expect(stored.value.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const identifies = await readTopic(gw.gateway.codec, 'identify', (messages) => messages.some((m) => m.value.event.messageId === 'it-ident-1'));
    const user = identifies.find((m) => m.value.event.messageId === 'it-ident-1')!;
    expect(user.key).toBe(`${account.accountId}:u-ident`);
    expect(user.value.event).toMatchObject({ type: 'identify', userId: 'u-ident', traits: { email: 'john.doe@example.com' } });
  });

  it('stores the valid events of a batch and names the rejected ones', async () => {
    const response = await gw.post(
      '/v1/batch',
      { batch: [aTrackEvent({ messageId: 'it-batch-0' }), aTrackEvent({ userId: 'anonymous' }), anIdentifyEvent({ messageId: 'it-batch-2' }), { type: 'group', userId: 'u' }] },
      basic(account.apiKey),
    );
    expect([response.status, await response.json()]).toEqual([
      200,
      {
        accepted: 2,
        rejected: [
          { index: 1, message: "field 'userId' is the placeholder 'anonymous', not a user id; anonymous events are not accepted" },
          { index: 3, message: "call type 'group' is not supported: Kana accepts identify and track" },
        ],
      },
    ]);
    await readTopic(gw.gateway.codec, 'track', (messages) => messages.some((m) => m.value.event.messageId === 'it-batch-0'));
    await readTopic(gw.gateway.codec, 'identify', (messages) => messages.some((m) => m.value.event.messageId === 'it-batch-2'));
  });

  it('stores a gzipped batch sent to /v1/import, as Segment’s Java library sends it', async () => {
    const response = await fetch(`${gw.url}/v1/import`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic(`${account.apiKey}\n`) },
      body: gzipSync(JSON.stringify({ batch: [aTrackEvent({ messageId: 'it-gzip-0', timestamp: 1714557600 })] })),
    });
    expect([response.status, await response.json()]).toEqual([200, { accepted: 1, rejected: [] }]);
    const tracks = await readTopic(gw.gateway.codec, 'track', (messages) => messages.some((m) => m.value.event.messageId === 'it-gzip-0'));
    // The key pasted with a newline still authenticated; the epoch seconds are read as such.
    expect(tracks.find((m) => m.value.event.messageId === 'it-gzip-0')!.value.event.timestamp).toBe('2024-05-01T10:00:00.000Z');
  });

  it.each([
    ['anonymous', without(aTrackEvent(), 'userId'), 400, "anonymous events are not accepted: field 'userId' is required"],
    ['placeholder', aTrackEvent({ userId: 'null' }), 400, "field 'userId' is the placeholder 'null', not a user id; anonymous events are not accepted"],
    ['invalid delta', aTrackEvent({ properties: { delta: 'NaN' } }), 400, "field 'properties.delta' must be a finite number or a numeric string"],
    ['invalid timestamp', aTrackEvent({ timestamp: 'not a date' }), 400, "field 'timestamp' is not a valid date-time: send ISO-8601, e.g. 2024-05-01T10:00:00Z"],
    ['track without event', without(aTrackEvent(), 'event'), 400, "field 'event' is required for track: the name of the event, e.g. 'Message Sent'"],
    ['page', aTrackEvent({ type: 'page' }), 501, "call type 'page' is not supported: Kana accepts identify and track"],
    ['alias', { type: 'alias', userId: 'u', previousId: 'p' }, 501, "call type 'alias' is not supported: Kana accepts identify and track"],
  ])('answers a %s event with its status and a message naming the reason', async (_name, event, status, message) => {
    const response = await gw.post('/v1/segment', event, basic(account.apiKey));
    expect([response.status, await response.json()]).toEqual([status, { message }]);
  });

  it('answers 400 for malformed JSON and 413 over 32 KB per event and 500 KB per request', async () => {
    const malformed = await gw.post('/v1/segment', '{"type":', basic(account.apiKey));
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/^malformed JSON body/);
    const event = await gw.post('/v1/track', aTrackEvent({ properties: { note: 'x'.repeat(33_000) } }), basic(account.apiKey));
    expect([event.status, ((await event.json()) as { message: string }).message]).toEqual([413, expect.stringMatching(/the limit is 32 KB per event$/)]);
    const request = await gw.post('/v1/batch', { batch: Array.from({ length: 17 }, () => aTrackEvent({ properties: { note: 'x'.repeat(31_000) } })) }, basic(account.apiKey));
    expect([request.status, ((await request.json()) as { message: string }).message]).toEqual([413, 'request body is larger than 512000 bytes']);
  });

  it('refuses missing and unknown keys with 401', async () => {
    const missing = await gw.post('/v1/track', aTrackEvent());
    expect([missing.status, await missing.json()]).toEqual([401, { message: 'missing API key: send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>' }]);
    const unknown = await gw.post('/v1/track', aTrackEvent(), bearer('kana_live_not-a-key'));
    expect([unknown.status, await unknown.json()]).toEqual([401, { message: 'unknown or revoked API key' }]);
  });

  it('accepts a key made with the kana CLI and refuses it within seconds of `kana keys revoke`', async () => {
    const created = await kana(gw.env, 'keys', 'create', '--account', account.accountId);
    expect(created).toEqual({ accountId: account.accountId, apiKey: expect.stringMatching(/^kana_live_/) });
    expect((await gw.post('/v1/track', aTrackEvent(), basic(created.apiKey!))).status).toBe(200);
    expect(await kana(gw.env, 'keys', 'revoke', '--key', created.apiKey!)).toEqual({ accountId: account.accountId, status: 'revoked' });
    await waitFor(async () => (await gw.post('/v1/track', aTrackEvent(), basic(created.apiKey!))).status === 401, { timeoutMs: 5_000, what: 'the revoked key to be refused' });
    // The account's other key is unaffected.
    expect((await gw.post('/v1/track', aTrackEvent(), basic(account.apiKey))).status).toBe(200);
  });

  it('tells a `kana keys revoke <key>` without --key which option takes the key, without echoing it', async () => {
    const failure = await kana(gw.env, 'keys', 'revoke', account.apiKey).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("kana: 'kana keys revoke' takes no bare argument: pass it as --key <apiKey>");
    expect(failure?.stderr).not.toContain(account.apiKey);
    expect((await gw.post('/v1/track', aTrackEvent(), basic(account.apiKey))).status).toBe(200);
  });

  it('creates accounts with the kana CLI', async () => {
    const created = await kana(gw.env, 'accounts', 'create', '--name', 'Globex');
    expect(created).toEqual({ accountId: expect.stringMatching(/^acc_/), apiKey: expect.stringMatching(/^kana_live_/) });
    expect((await gw.post('/v1/identify', anIdentifyEvent(), bearer(created.apiKey!))).status).toBe(200);
  });

  it('answers 503 naming the service when an admin route’s owner is down', async () => {
    const response = await fetch(`${gw.url}/v1/usage`, { headers: { authorization: bearer(account.apiKey) } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(await response.json()).toEqual({ message: 'the usage service is unavailable; retry later' });
  });
});
