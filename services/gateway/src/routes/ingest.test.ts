import { aTrackEvent, anIdentifyEvent, without } from '../domain/builders';
import { appUnderTest, basic, bearer, closeApps, KEY, OTHER_KEY } from '../testing/app-under-test';

afterEach(closeApps);

function post(app: ReturnType<typeof appUnderTest>, url: string, body: unknown, authorization: string | null = basic(KEY)) {
  return app.request('POST', url, { body, headers: authorization ? { authorization } : {} });
}

describe('ingest routes', () => {
  it.each([
    ['/v1/segment', aTrackEvent()],
    ['/v1/track', without(aTrackEvent(), 'type')],
    ['/v1/identify', without(anIdentifyEvent(), 'type')],
  ])('%s stores one event for the key’s account and answers ok', async (url, event) => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, url, event);
    expect([response.statusCode, response.json()]).toEqual([200, { message: 'ok' }]);
    expect(sink.stored).toHaveLength(1);
    expect(sink.stored[0]).toMatchObject({ accountId: 'acc_1', receivedAt: '2024-05-02T00:00:00.000Z', events: [{ userId: 'user-1', messageId: event.messageId }] });
  });

  it.each(['page', 'screen', 'group', 'alias'])('answers /v1/%s, a Tracking API call Kana does not take, 501 naming it, storing nothing', async (type) => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, `/v1/${type}`, { userId: 'user-1', name: 'Home' });
    expect([response.statusCode, response.json()]).toEqual([501, { message: `call type '${type}' is not supported: Kana accepts identify and track` }]);
    expect((await post(app, `/v1/${type}`, { userId: 'user-1' }, basic('kana_live_unknown'))).statusCode).toBe(401);
    expect(sink.stored).toHaveLength(0);
  });

  it.each([['GET', '/v1/track'], ['PUT', '/v1/batch'], ['DELETE', '/v1/segment']])('answers %s %s 405 with Allow: POST, not a 404 that makes the path look wrong', async (method, url) => {
    const app = appUnderTest();
    const response = await app.request(method, url, { headers: { authorization: basic(KEY) } });
    expect([response.statusCode, response.headers.allow, response.json()]).toEqual([405, 'POST', { message: `${url} takes POST, not ${method}: send the Segment call as a JSON body` }]);
    expect(app.sink.stored).toHaveLength(0);
  });

  it('authenticates by Bearer as well as Basic, scoping to each key’s account', async () => {
    const app = appUnderTest();
    const { sink } = app;
    expect((await post(app, '/v1/track', aTrackEvent(), bearer(OTHER_KEY))).statusCode).toBe(200);
    expect(sink.stored[0]!.accountId).toBe('acc_2');
  });

  it.each([
    ['no Authorization header', null, 'missing API key: send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>'],
    ['an unknown key', basic('kana_live_unknown'), 'unknown or revoked API key'],
    ['a header of another scheme', 'Token abc', 'the Authorization scheme \'Token\' is not accepted: send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>'],
  ])('answers 401 for %s and stores nothing', async (_name, authorization, message) => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, '/v1/segment', aTrackEvent(), authorization);
    expect([response.statusCode, response.json()]).toEqual([401, { message }]);
    expect(sink.stored).toHaveLength(0);
  });

  it('answers 401 for a revoked key', async () => {
    const app = appUnderTest();
    const { store } = app;
    store.revoke(KEY);
    expect((await post(app, '/v1/segment', aTrackEvent())).json()).toEqual({ message: 'unknown or revoked API key' });
  });

  it.each([
    ['anonymous', without(aTrackEvent(), 'userId'), 400, "anonymous events are not accepted: field 'userId' is required"],
    ['placeholder', aTrackEvent({ userId: 'undefined' }), 400, "field 'userId' is the placeholder 'undefined', not a user id; anonymous events are not accepted"],
    ['bad delta', aTrackEvent({ properties: { delta: 'lots' } }), 400, "field 'properties.delta' must be a finite number or a numeric string"],
    ['page', aTrackEvent({ type: 'page' }), 501, "call type 'page' is not supported: Kana accepts identify and track"],
  ])('refuses a %s event with its status and message, storing nothing', async (_name, event, status, message) => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, '/v1/segment', event);
    expect([response.statusCode, response.json()]).toEqual([status, { message }]);
    expect(sink.stored).toHaveLength(0);
  });

  it('counts a batch-level context, which every event carries, against the 32 KB per event', async () => {
    const app = appUnderTest();
    const note = 'x'.repeat(20_000);
    const batch = [aTrackEvent({ properties: { note } }), anIdentifyEvent()];
    const answer = await post(app, '/v1/batch', { context: { note }, batch });
    expect([answer.statusCode, answer.json()]).toEqual([200, { accepted: 1, rejected: [{ index: 0, message: expect.stringMatching(/^event is \d+ bytes with the batch's context and integrations; the limit is 32 KB per event$/) }] }]);
    const tooLarge = await post(app, '/v1/batch', { context: { note: 'x'.repeat(33_000) }, batch });
    expect([tooLarge.statusCode, tooLarge.json().message]).toEqual([413, expect.stringMatching(/^the batch's context and integrations are \d+ bytes; every event carries them/)]);
    expect(app.sink.events.map((event) => event.type)).toEqual(['identify']);
  });

  it('answers 400 for malformed JSON and 413 over 32 KB per event or 500 KB per request', async () => {
    const app = appUnderTest();
    const malformed = await post(app, '/v1/segment', '{"type": "track",');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().message).toMatch(/^malformed JSON body/);
    const bigEvent = await post(app, '/v1/segment', aTrackEvent({ properties: { blob: 'x'.repeat(40_000) } }));
    expect(bigEvent.statusCode).toBe(413);
    expect(bigEvent.json().message).toMatch(/the limit is 32 KB per event/);
    const bigRequest = await post(app, '/v1/batch', { batch: Array.from({ length: 20 }, () => aTrackEvent({ properties: { blob: 'x'.repeat(30_000) } })) });
    expect(bigRequest.statusCode).toBe(413);
    expect(bigRequest.json().message).toMatch(/^request body is larger than 512000 bytes/);
  });

  it('answers 503 with Retry-After when the events cannot be stored', async () => {
    const app = appUnderTest();
    const { kafkaDown } = app;
    kafkaDown();
    const response = await post(app, '/v1/segment', aTrackEvent());
    expect([response.statusCode, response.json()]).toEqual([503, { message: 'the events could not be stored (Kafka unavailable); retry later' }]);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('batches', () => {
  it('stores the valid events and lists the others by index with their reason', async () => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, '/v1/batch', {
      batch: [aTrackEvent(), without(aTrackEvent(), 'userId'), anIdentifyEvent(), aTrackEvent({ type: 'screen' })],
      context: { library: { name: 'analytics-python' } },
    });
    expect([response.statusCode, response.json()]).toEqual([
      200,
      {
        accepted: 2,
        rejected: [
          { index: 1, message: "anonymous events are not accepted: field 'userId' is required" },
          { index: 3, message: "call type 'screen' is not supported: Kana accepts identify and track" },
        ],
      },
    ]);
    expect(sink.events.map((event) => event.type)).toEqual(['track', 'identify']);
    expect(sink.stored).toHaveLength(1);
  });

  it('accepts {batch} on /v1/segment too', async () => {
    const app = appUnderTest();
    const { sink } = app;
    const response = await post(app, '/v1/segment', { batch: [aTrackEvent(), aTrackEvent()] });
    expect(response.json()).toEqual({ accepted: 2, rejected: [] });
    expect(sink.events).toHaveLength(2);
  });

  it('answers 400 with the list when no event was accepted, and the shared status when all share one', async () => {
    const app = appUnderTest();
    const { sink } = app;
    const mixed = await post(app, '/v1/batch', { batch: [without(aTrackEvent(), 'userId'), aTrackEvent({ type: 'alias' })] });
    expect(mixed.statusCode).toBe(400);
    expect(mixed.json()).toMatchObject({ accepted: 0, message: "no event of the batch was accepted: anonymous events are not accepted: field 'userId' is required (index 0)" });
    const pages = await post(app, '/v1/batch', { batch: [aTrackEvent({ type: 'page' })] });
    expect(pages.statusCode).toBe(501);
    expect(sink.stored).toHaveLength(0);
  });

  it.each([[{}], [{ batch: [] }], [{ batch: 'x' }]])('refuses %p with 400 naming batch', async (body) => {
    const app = appUnderTest();
    const response = await post(app, '/v1/batch', body);
    expect([response.statusCode, response.json()]).toEqual([400, { message: "field 'batch' must be a non-empty array of events" }]);
  });

  it('answers 503 for the whole batch when storing fails, so the sender retries all of it', async () => {
    const app = appUnderTest();
    const { kafkaDown } = app;
    kafkaDown();
    const response = await post(app, '/v1/batch', { batch: [aTrackEvent(), anIdentifyEvent()] });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
  });
});

describe('metrics', () => {
  it('counts requests by route and status and events by type and outcome', async () => {
    const app = appUnderTest();
    const { metrics } = app;
    await post(app, '/v1/track', aTrackEvent());
    await post(app, '/v1/track', aTrackEvent({ userId: 'null' }));
    const text = await metrics.metrics();
    expect(text).toContain('kana_gateway_requests_total{method="POST",route="/v1/track",status="200",service="gateway-test"} 1');
    expect(text).toContain('kana_gateway_requests_total{method="POST",route="/v1/track",status="400",service="gateway-test"} 1');
    expect(text).toContain('kana_gateway_events_total{type="track",outcome="accepted",service="gateway-test"} 1');
    expect(text).toContain('kana_gateway_events_total{type="track",outcome="rejected",service="gateway-test"} 1');
    expect(text).toMatch(/kana_gateway_produce_seconds_count\{service="gateway-test",outcome="stored"\} 1/);
  });
});
