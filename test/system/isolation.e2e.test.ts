import { readFileSync } from 'node:fs';
import { waitFor } from '@kana/platform/testing';
import { aTrack, admin, anIdentify, basicAuth, rawRequest, SystemUnderTest, totalOf } from './harness';
import { idsIn, seedTenant, snapshotOf, type Tenant } from './tenants';

// Tenant isolation through the public gateway only: a key of account A can
// neither read nor change anything of account B, on every admin route.

let system: SystemUnderTest;
let a: Tenant;
let b: Tenant;
let bBefore: Record<string, unknown>;
const revokedKeys: string[] = [];

beforeAll(async () => {
  system = await SystemUnderTest.start();
  [a, b] = await Promise.all([seedTenant(system, 'a', 1), seedTenant(system, 'b', 100)]);
  bBefore = await snapshotOf(b.dash);
});
afterAll(async () => {
  await system?.stop();
  await system?.cleanup();
});

const statusOf = async (pending: Promise<{ status: number }>) => (await pending).status;
const bIds = () => idsIn(bBefore);
const foreignIn = (value: unknown) => [...idsIn(value)].filter((id) => bIds().has(id));

describe("a key of account A and account B's data", () => {
  it('users: lists, lookups and attention never show B’s users', async () => {
    for (const path of ['/v1/users?limit=1000', '/v1/users?userId=shared-user', '/v1/users?email=import@b.example', '/v1/users?email=shared@b.example', '/v1/users?email=team@example.com', '/v1/users/attention']) {
      const reply = await a.dash.get(path);
      expect([path, reply.status, foreignIn(reply.body)]).toEqual([path, 200, []]);
    }
    expect((await a.dash.get('/v1/users?userId=shared-user')).body.data).toEqual([expect.objectContaining({ id: a.users['shared-user'], email: 'shared@a.example' })]);
    for (const id of Object.values(b.users)) expect(await statusOf(a.dash.get(`/v1/users/${id}`))).toBe(404);
  });

  it('users: merge, delete and import cannot touch B’s users', async () => {
    const [b1, b2] = [b.users['b-team-1'], b.users['b-team-2']];
    expect(await statusOf(a.dash.post(`/v1/users/${b1}/merge`, { intoId: b2 }))).toBe(404);
    expect(await statusOf(a.dash.post(`/v1/users/${b1}/merge`, { intoId: a.users['a-team-1'] }))).toBe(404);
    expect(await statusOf(a.dash.post(`/v1/users/${a.users['a-team-2']}/merge`, { intoId: b2 }))).toBe(404);
    expect(await statusOf(a.dash.delete(`/v1/users/${b1}`))).toBe(404);
    expect(await statusOf(a.dash.delete(`/v1/users/${b.users.import}`))).toBe(404);
    // B's Stripe id and B's emails imported by A land in A only.
    const imported = await a.dash.post('/v1/users/import', { customers: [{ id: 'cus_SharedStripe01', email: 'import@b.example', name: 'Hijack' }, { id: 'cus_OtherStripe002', email: 'team@example.com', name: 'Hijack 2' }] });
    expect(imported.status).toBe(200);
    expect((await a.dash.get(`/v1/users/${a.users['a-team-2']}`)).status).toBe(200);
    // An identify in A with the email of B's import claims A's copy, never B's (checked by the snapshot below).
    expect((await a.seg.identify(anIdentify({ userId: 'claimer', traits: { email: 'import@b.example' } }))).status).toBe(200);
    await waitFor(async () => (await a.dash.get('/v1/users?userId=claimer')).body.data.length === 1, { timeoutMs: 60_000, what: 'claimer identified in A' });
  });

  it('features: lists show only A’s; create and delete act on A only', async () => {
    const features = (await a.dash.get('/v1/features')).body.data.map((feature: any) => [feature.id, feature.name]);
    expect(features.sort()).toEqual([['messages', 'Messages of a'], ['only-a', 'Only a']]);
    expect(await statusOf(a.dash.delete('/v1/features/only-b'))).toBe(404);
    // Same id as one of B's features: A gets its own.
    expect(await statusOf(a.dash.post('/v1/features', { id: 'only-b', name: 'A copy' }))).toBe(201);
    expect(await statusOf(a.dash.delete('/v1/features/only-b'))).toBe(204);
  });

  it('rules: list, get, patch, delete and preview never reach B’s rules or events', async () => {
    const listed = await a.dash.get('/v1/rules');
    expect([listed.status, foreignIn(listed.body), listed.body.data.map((rule: any) => rule.id)]).toEqual([200, [], [a.ruleId]]);
    expect(await statusOf(a.dash.get(`/v1/rules/${b.ruleId}`))).toBe(404);
    expect(await statusOf(a.dash.patch(`/v1/rules/${b.ruleId}`, { enabled: false }))).toBe(404);
    expect(await statusOf(a.dash.patch(`/v1/rules/${b.ruleId}`, { featureId: 'messages' }))).toBe(404);
    expect(await statusOf(a.dash.delete(`/v1/rules/${b.ruleId}`))).toBe(404);
    // A's rule cannot point at a feature only B has.
    expect(await statusOf(a.dash.post('/v1/rules', { featureId: 'only-b', eventName: 'Seat Added', conditions: [] }))).toBeGreaterThanOrEqual(400);
    expect(await statusOf(a.dash.patch(`/v1/rules/${a.ruleId}`, { featureId: 'only-b' }))).toBeGreaterThanOrEqual(400);

    const preview = await a.dash.post('/v1/rules/preview', { featureId: 'messages', eventName: 'Shared Event', conditions: [] });
    expect([preview.status, preview.body.matchingUnmapped, foreignIn(preview.body)]).toEqual([200, 2, []]);
    expect(preview.body.sample.map((event: any) => event.messageId).sort()).toEqual([...a.unmapped].sort());
  });

  it('unmapped events and reprocess jobs: lists show only A’s, B’s job ids are 404', async () => {
    for (const path of ['/v1/events/unmapped?limit=1000', '/v1/events/unmapped?eventName=Shared%20Event', '/v1/events/unmapped?userId=b-team-2', '/v1/reprocess-jobs?limit=1000']) {
      const reply = await a.dash.get(path);
      expect([path, reply.status, foreignIn(reply.body)]).toEqual([path, 200, []]);
    }
    expect((await a.dash.get('/v1/events/unmapped?limit=1000')).body.data.map((event: any) => event.messageId).sort()).toEqual([...a.unmapped].sort());
    for (const id of b.jobIds) expect(await statusOf(a.dash.get(`/v1/reprocess-jobs/${id}`))).toBe(404);
  });

  it('usage and usage records: only A’s', async () => {
    expect((await a.dash.get('/v1/usage')).body.data.sort((x: any, y: any) => x.featureId.localeCompare(y.featureId))).toEqual([
      { userId: 'shared-user', featureId: 'messages', total: 1 },
      { userId: 'a-team-1', featureId: 'only-a', total: 1 },
    ]);
    for (const path of ['/v1/usage?userId=b-team-1', '/v1/usage?featureId=only-b', '/v1/usage/records?userId=b-team-1', '/v1/usage/records?featureId=only-b']) {
      expect([path, (await a.dash.get(path)).body]).toEqual([path, { data: [], nextCursor: null }]);
    }
    const records = await a.dash.get('/v1/usage/records?limit=1000');
    expect([foreignIn(records.body), records.body.data.map((record: any) => record.messageId).sort()]).toEqual([[], [...a.counted].sort()]);
  });

  const snapshotThroughGateway = async (path: string) => {
    const reply = await rawRequest(system.gatewayUrl, 'GET', path, { authorization: `Bearer ${a.apiKey}` });
    return [reply.status, reply.body.includes(b.ruleId) || reply.body.includes('only-b')];
  };

  it('the internal rules-snapshot route is not reachable through the gateway', async () => {
    expect(await snapshotThroughGateway(`/internal/accounts/${b.accountId}/rules-snapshot`)).toEqual([404, false]);
  });

  // Dot segments once let `/v1/rules/../../internal/accounts/<B>/rules-snapshot` pass the proxy's
  // prefix check and reach an internal route with B's snapshot (the URL resolver removed them, also
  // percent-encoded). Sent raw, as an attacker's client can (fetch would normalise the path first).
  it.each([
    ['dot segments', (bAccount: string) => `/v1/rules/../../internal/accounts/${bAccount}/rules-snapshot`],
    ['%2e-encoded dot segments', (bAccount: string) => `/v1/rules/%2e%2e/%2e%2e/internal/accounts/${bAccount}/rules-snapshot`],
  ])('nor with %s in an admin path', async (_name, path) => {
    expect(await snapshotThroughGateway(path(b.accountId))).toEqual([400, false]);
  });

  it('after all of the above, B’s data is exactly as before', async () => {
    expect(await snapshotOf(b.dash)).toEqual(bBefore);
  });
});

describe('across accounts', () => {
  it("A's rules never map B's events, even with the same event name and feature id", async () => {
    const rule = await a.dash.post('/v1/rules', { featureId: 'messages', eventName: 'Shared Event', conditions: [] });
    expect(rule.status).toBe(201);
    const [job] = (await a.dash.get('/v1/reprocess-jobs')).body.data;
    await waitFor(async () => (await a.dash.get(`/v1/reprocess-jobs/${job.id}`)).body.status === 'done', { timeoutMs: 60_000, what: "A's job done" });
    expect(totalOf(await a.dash.get('/v1/usage?featureId=messages'))).toBe(3);

    // A live event of B after A's rule exists: it must join B's unmapped list, not be counted.
    const live = aTrack({ userId: 'shared-user', event: 'Shared Event' });
    expect((await b.seg.track(live)).status).toBe(200);
    await waitFor(async () => (await b.dash.get('/v1/events/unmapped?limit=1000')).body.data.some((event: any) => event.messageId === live.messageId), { timeoutMs: 60_000, what: "B's live event unmapped" });
    expect((await b.dash.get('/v1/events/unmapped?limit=1000')).body.data.map((event: any) => event.messageId).sort()).toEqual([...b.unmapped, live.messageId].sort());
    expect(await b.dash.get('/v1/usage')).toEqual(expect.objectContaining({ body: (bBefore['/v1/usage'] as object) }));
  });

  it("a merge in A moves only A's usage, even for a userId that B also has", async () => {
    expect((await a.seg.identify(anIdentify({ userId: 'b-team-1', traits: { email: 'merge@a.example' } }))).status).toBe(200);
    expect((await a.seg.track(aTrack({ userId: 'b-team-1', properties: { featureId: 'messages', delta: 1000 } }))).status).toBe(200);
    await waitFor(async () => totalOf(await a.dash.get('/v1/usage?userId=b-team-1')) === 1000, { timeoutMs: 60_000, what: "A's b-team-1 usage" });
    const [from] = await waitFor(async () => {
      const { data } = (await a.dash.get('/v1/users?userId=b-team-1')).body;
      return data.length === 1 && data;
    }, { timeoutMs: 60_000, what: "A's user b-team-1" });
    expect((await a.dash.post(`/v1/users/${from.id}/merge`, { intoId: a.users['a-team-1'] })).status).toBe(200);
    await waitFor(async () => totalOf(await a.dash.get('/v1/usage?userId=a-team-1&featureId=messages')) === 1000, { timeoutMs: 60_000, what: "A's usage moved to a-team-1" });

    expect((await b.dash.get('/v1/usage')).body).toEqual(bBefore['/v1/usage']);
    // B's own b-team-1 keeps counting as itself.
    expect((await b.seg.track(aTrack({ userId: 'b-team-1', event: 'Seat Added', properties: { delta: 5 } }))).status).toBe(200);
    await waitFor(async () => totalOf(await b.dash.get('/v1/usage?userId=b-team-1')) === 105, { timeoutMs: 60_000, what: "B's b-team-1 at 105" });
    expect((await b.dash.get('/v1/usage?featureId=only-b')).body.data).toEqual([{ userId: 'b-team-1', featureId: 'only-b', total: 105 }]);
  });

  it('a client-sent x-kana-account-id header cannot impersonate another account', async () => {
    const spoof = { 'x-kana-account-id': b.accountId };
    const users = await system.admin(a.apiKey, spoof).get('/v1/users?limit=1000');
    expect([users.status, foreignIn(users.body)]).toEqual([200, []]);
    expect(await statusOf(admin(system.gatewayUrl, 'not-a-key', spoof).get('/v1/users'))).toBe(401);
    expect(await statusOf(system.segment('not-a-key', spoof).track(aTrack()))).toBe(401);
    const noAuth = await rawRequest(system.gatewayUrl, 'GET', '/v1/usage', spoof);
    expect(noAuth.status).toBe(401);

    // Ingest with A's key and B's header: the event is A's.
    const event = aTrack({ userId: 'spoofed-user', properties: { featureId: 'messages', delta: 7 } });
    expect((await system.segment(a.apiKey, spoof).track(event)).status).toBe(200);
    await waitFor(async () => totalOf(await a.dash.get('/v1/usage?userId=spoofed-user')) === 7, { timeoutMs: 60_000, what: "the spoofed event counted for A" });
    expect((await b.dash.get('/v1/usage?userId=spoofed-user')).body.data).toEqual([]);
  });

  it('a revoked key gets 401 within seconds, on ingest and admin; the account’s other key keeps working', async () => {
    const { apiKey } = await system.cli('keys', 'create', '--account', a.accountId);
    if (!apiKey) throw new Error('kana keys create printed no apiKey');
    expect(await statusOf(system.segment(apiKey).track(aTrack()))).toBe(200);
    expect(await statusOf(system.admin(apiKey).get('/v1/features'))).toBe(200);
    revokedKeys.push(apiKey);
    await system.cli('keys', 'revoke', '--key', apiKey);
    await waitFor(async () => (await statusOf(system.segment(apiKey).track(aTrack()))) === 401, { timeoutMs: 15_000, what: 'ingest 401 for the revoked key' });
    await waitFor(async () => (await statusOf(system.admin(apiKey).get('/v1/features'))) === 401, { timeoutMs: 15_000, what: 'admin 401 for the revoked key' });
    expect(await statusOf(system.admin(a.apiKey).get('/v1/features'))).toBe(200);
  });

  it('no API key appears in any service log (checked after a graceful stop)', async () => {
    await system.stop();
    const secrets = [a.apiKey, b.apiKey, ...revokedKeys].flatMap((key) => [key, basicAuth(key).slice('Basic '.length)]);
    const files = system.logFiles();
    expect(files.length).toBeGreaterThanOrEqual(4);
    const leaks = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [...secrets.filter((secret) => text.includes(secret)), ...(text.match(/kana_live_[A-Za-z0-9_-]{16,}/g) ?? [])].map((secret) => `${file}: ${secret.slice(0, 14)}…`);
    });
    expect(leaks).toEqual([]);
  });
});
