import { readTopic, uniqueId, waitFor } from '@kana/platform/testing';
import type { ApiUser } from './adapters/pg-rows';
import { anIdentifyMessage, IdentityHarness } from '../test/harness';

// Every path of the identity table through real Kafka and Postgres: events go
// in on kana.segment.identify, results are read back through the admin API
// and kana.identity.changes, as an account and a downstream consumer would.

jest.setTimeout(60_000);
const h = new IdentityHarness();
beforeAll(() => h.startInstance(), 60_000);
afterAll(() => h.stop(), 60_000);

const at = (minute: number) => new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString();

async function users(accountId: string, query = ''): Promise<ApiUser[]> {
  const response = await h.request(accountId, 'GET', `/v1/users?limit=1000${query}`);
  expect(response.statusCode).toBe(200);
  return response.json().data;
}

/** Waits until the account's user with this userId satisfies `check`. */
async function userWhere(accountId: string, userId: string, check: (user: ApiUser) => boolean): Promise<ApiUser> {
  return waitFor(async () => (await users(accountId, `&userId=${userId}`)).find(check), { what: `user ${userId}` });
}

async function changesOf(accountId: string, until: (kinds: string[]) => boolean) {
  const messages = await readTopic(h.codec, 'identityChanges', (all) => until(all.filter((m) => m.value.accountId === accountId).map((m) => m.value.kind)));
  return messages.filter((m) => m.value.accountId === accountId);
}

it('creates a user, updates it last-writer-wins by timestamp, and ignores a duplicate messageId', async () => {
  const account = uniqueId('acc-');
  const first = anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: at(1), traits: { name: 'Ann', email: 'Ann@X.io', billingUserId: 'cus_Lp1bSKob4laHDD', plan: 'pro' } });
  await h.publish([first]);
  const created = await userWhere(account, 'u1', () => true);
  expect(created).toMatchObject({ userId: 'u1', name: 'Ann', email: 'Ann@X.io', billingId: 'cus_Lp1bSKob4laHDD', billingProvider: 'stripe', source: 'identify' });

  await h.publish([
    anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: at(3), traits: { name: 'Ann Newest' } }),
    anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: at(2), traits: { name: 'Ann Older', billingId: 'AzZlGYSe8mY3F1Dxo' } }),
    { ...first, requestId: 'retry', event: { ...first.event, traits: { name: 'Duplicate' } } },
  ]);
  const updated = await userWhere(account, 'u1', (u) => u.billingId === 'AzZlGYSe8mY3F1Dxo');
  expect(updated).toMatchObject({ id: created.id, name: 'Ann Newest', billingProvider: 'chargebee' });
  // One change per user per batch: the three updates (two applied, the duplicate changes nothing) come as one
  // `updated`, or two if Kafka delivered them in two batches.
  const changes = (await changesOf(account, (kinds) => kinds.includes('updated'))).map((m) => [m.key, m.value.kind]);
  expect(changes[0]).toEqual([`${account}:u1`, 'created']);
  expect(changes.length).toBeLessThanOrEqual(3);
  for (const change of changes.slice(1)) expect(change).toEqual([`${account}:u1`, 'updated']);
  expect(await users(account)).toHaveLength(1);
});

it('keeps the field timestamps to the millisecond across batches: a redelivery writes nothing, one millisecond newer wins', async () => {
  const account = uniqueId('acc-');
  const ts = '2024-05-01T10:00:59.999Z';
  const later = '2024-05-01T10:01:00.000Z';
  const original = anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: ts, traits: { name: 'Original' } });
  await h.publish([original]);
  await userWhere(account, 'u1', () => true);
  // Read back from Postgres, the stored name timestamp must equal the redelivery's: strict on ties, it changes nothing.
  await h.publish([
    { ...original, requestId: 'retry', event: { ...original.event, traits: { name: 'Redelivered' } } },
    anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: later, traits: { email: 'u1@x.io' } }),
  ]);
  expect(await userWhere(account, 'u1', (u) => u.email === 'u1@x.io')).toMatchObject({ name: 'Original' });
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'u1', timestamp: later, traits: { name: 'Newer' } })]);
  await userWhere(account, 'u1', (u) => u.name === 'Newer');
});

it('lets an identify claim the Stripe import that is the only user with its email', async () => {
  const account = uniqueId('acc-');
  const imported = await h.request(account, 'POST', '/v1/users/import', { customers: [{ id: 'cus_StripeClaim01', email: 'bob@x.io', name: 'Bob (Stripe)' }] });
  expect(imported.json()).toEqual({ imported: 1, merged: 0, skipped: 0 });
  // An id too short to be Stripe's is refused with what a valid one looks like.
  const short = await h.request(account, 'POST', '/v1/users/import', { customers: [{ id: 'cus_Test123' }] });
  expect([short.statusCode, short.json().message]).toEqual([
    400,
    "invalid body field 'customers.0.id': must be a Stripe customer id: 'cus_' and at least 8 letters or digits, e.g. cus_NffrFeUfNV2Hib",
  ]);
  const [importUser] = await users(account);
  expect(importUser).toMatchObject({ userId: null, billingId: 'cus_StripeClaim01', source: 'import' });

  await h.publish([anIdentifyMessage({ accountId: account, userId: 'bob', traits: { email: ' BOB@x.io', name: 'Bob' } })]);
  const claimed = await userWhere(account, 'bob', () => true);
  expect(claimed).toMatchObject({ id: importUser!.id, name: 'Bob', billingId: 'cus_StripeClaim01', billingProvider: 'stripe' });
  expect(await users(account)).toHaveLength(1);
  const changes = await changesOf(account, (kinds) => kinds.length >= 2);
  // Two keys, so two partitions: Kafka orders changes per key only.
  expect(changes.map((m) => [m.key, m.value.kind]).sort()).toEqual([[`${account}:${importUser!.id}`, 'created'], [`${account}:bob`, 'updated']].sort());
});

it('creates a new user and records a merge conflict when the email is ambiguous', async () => {
  const account = uniqueId('acc-');
  await h.request(account, 'POST', '/v1/users/import', {
    customers: [{ id: 'cus_Ambiguous001', email: 'team@x.io' }, { id: 'cus_Ambiguous002', email: 'team@x.io' }],
  });
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'carol', traits: { email: 'team@x.io' } })]);
  const carol = await userWhere(account, 'carol', () => true);
  expect(carol.billingId).toBeNull();

  const attention = (await h.request(account, 'GET', '/v1/users/attention')).json();
  expect(attention.issues).toEqual([expect.objectContaining({ userId: 'carol', kind: 'merge_conflict' })]);
  expect(attention.sharedEmails).toEqual([{ email: 'team@x.io', users: expect.arrayContaining([expect.objectContaining({ userId: 'carol' })]) }]);
  expect(attention.sharedEmails[0].users).toHaveLength(3);
  expect(attention.missingBillingId.map((u: ApiUser) => u.userId)).toEqual(['carol']);
});

it('merges an import into an existing user that gains its email, and shares emails between users with userIds', async () => {
  const account = uniqueId('acc-');
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'dan', timestamp: at(1), traits: { name: 'Dan' } })]);
  await userWhere(account, 'dan', () => true);
  await h.request(account, 'POST', '/v1/users/import', { customers: [{ id: 'cus_DanImport001', email: 'dan@x.io', name: 'Daniel' }] });
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'dan', timestamp: at(2), traits: { email: 'dan@x.io' } })]);
  const dan = await userWhere(account, 'dan', (u) => u.billingId !== null);
  expect(dan).toMatchObject({ name: 'Dan', email: 'dan@x.io', billingId: 'cus_DanImport001' });
  // Once the import is gone, another user with the same email is simply created next to Dan.
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'dan-2', timestamp: at(2), traits: { email: 'DAN@x.io' } })]);
  await userWhere(account, 'dan-2', () => true);
  expect((await users(account)).map((u) => [u.userId, u.billingId]).sort()).toEqual([['dan', 'cus_DanImport001'], ['dan-2', null]]);
  const merged = (await changesOf(account, (kinds) => kinds.includes('merged'))).find((m) => m.value.kind === 'merged')!;
  expect(merged.value.user).toEqual({ id: dan.id, userId: 'dan' });
  expect(merged.value.from).toEqual({ id: expect.any(String), userId: null });
});

it('stores no invalid billing id or email and shows them as issues', async () => {
  const account = uniqueId('acc-');
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'eve', traits: { name: 'Eve', email: 'eve at x', billingUserId: 'eve@x.io', is_trial_audience: true } })]);
  expect(await userWhere(account, 'eve', () => true)).toMatchObject({ name: 'Eve', email: null, billingId: null });
  const { issues } = (await h.request(account, 'GET', '/v1/users/attention')).json();
  expect(issues.map((i: { kind: string }) => i.kind).sort()).toEqual(['invalid_billing_id', 'invalid_email']);
  expect(issues.find((i: { kind: string }) => i.kind === 'invalid_billing_id').detail).toContain('"eve@x.io"');
});

it('pages the attention lists, each by itself, with one opaque cursor', async () => {
  const account = uniqueId('acc-');
  const bad = (n: number) => ({ billingUserId: `bad id ${n}` });
  await h.publish([
    ...['a1', 'a2'].map((userId) => anIdentifyMessage({ accountId: account, userId, traits: { email: 'g1@x.io' } })),
    ...['a3', 'a4'].map((userId) => anIdentifyMessage({ accountId: account, userId, traits: { email: 'g2@x.io' } })),
    ...['a5', 'a6'].map((userId, i) => anIdentifyMessage({ accountId: account, userId, traits: { email: 'g3@x.io', ...bad(i) } })),
    anIdentifyMessage({ accountId: account, userId: 'a7', traits: { email: 'not an email', ...bad(7) } }),
  ]);
  await waitFor(async () => (await users(account)).length === 7, { what: 'seven users' });
  const whole = (await h.request(account, 'GET', '/v1/users/attention?limit=1000')).json();
  expect([whole.missingBillingId.length, whole.sharedEmails.length, whole.issues.length, whole.nextCursor]).toEqual([7, 3, 4, null]);

  const pages = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page = (await h.request(account, 'GET', `/v1/users/attention?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
    pages.push(page);
    cursor = page.nextCursor;
  }
  // The longest list (7) takes four pages; the others answer [] once they are read.
  expect(pages.map((page) => [page.missingBillingId.length, page.sharedEmails.length, page.issues.length])).toEqual([[2, 2, 2], [2, 1, 2], [2, 0, 0], [1, 0, 0]]);
  expect(pages.flatMap((page) => page.missingBillingId)).toEqual(whole.missingBillingId);
  expect(pages.flatMap((page) => page.sharedEmails)).toEqual(whole.sharedEmails);
  expect(pages.flatMap((page) => page.issues)).toEqual(whole.issues);
  // The default page is 50 a list, as on every other list.
  expect((await h.request(account, 'GET', '/v1/users/attention')).json()).toEqual(whole);
  const forged = Buffer.from(JSON.stringify({ missing: ['yesterday', 'x'] })).toString('base64url');
  const refused = await h.request(account, 'GET', `/v1/users/attention?cursor=${forged}`);
  expect([refused.statusCode, refused.json().message]).toEqual([400, expect.stringContaining("'cursor'")]);
});

it('drops an invalid billing id issue once a newer valid one is stored, and a merge conflict once the account merged the import', async () => {
  const account = uniqueId('acc-');
  await h.request(account, 'POST', '/v1/users/import', {
    customers: [{ id: 'cus_Resolve000001', email: 'ivy@x.io' }, { id: 'cus_Resolve000002', email: 'ivy@x.io' }],
  });
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'ivy', timestamp: at(1), traits: { email: 'ivy@x.io', billingUserId: 'ivy@x.io' } })]);
  await userWhere(account, 'ivy', () => true);
  const kinds = async () => ((await h.request(account, 'GET', '/v1/users/attention')).json().issues as { kind: string }[]).map((i) => i.kind).sort();
  expect(await kinds()).toEqual(['invalid_billing_id', 'merge_conflict']);

  // An older valid id does not resolve the newer invalid one; a newer one does.
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'ivy', timestamp: at(0), traits: { billingUserId: 'cus_IvyOlder00001' } })]);
  await userWhere(account, 'ivy', (u) => u.billingId === 'cus_IvyOlder00001');
  expect(await kinds()).toEqual(['invalid_billing_id', 'merge_conflict']);
  await h.publish([anIdentifyMessage({ accountId: account, userId: 'ivy', timestamp: at(2), traits: { billingUserId: 'cus_IvyNewer00001' } })]);
  await userWhere(account, 'ivy', (u) => u.billingId === 'cus_IvyNewer00001');
  expect(await kinds()).toEqual(['merge_conflict']);

  const imports = (await users(account)).filter((u) => u.userId === null);
  await h.request(account, 'DELETE', `/v1/users/${imports[0]!.id}`);
  expect(await kinds()).toEqual(['merge_conflict']); // still an import and ivy on the email
  const ivy = await userWhere(account, 'ivy', () => true);
  expect((await h.request(account, 'POST', `/v1/users/${imports[1]!.id}/merge`, { intoId: ivy.id })).statusCode).toBe(200);
  expect(await kinds()).toEqual([]);
});

describe('admin routes', () => {
  it('answers 401 without the gateway account header', async () => {
    const response = await h.request(null, 'GET', '/v1/users');
    expect(response.statusCode).toBe(401);
    expect(response.json().message).toMatch(/account/);
  });

  it('pages users with an opaque cursor, scoped to the account, and validates limit and cursor', async () => {
    const account = uniqueId('acc-');
    await h.publish(['p1', 'p2', 'p3'].map((userId) => anIdentifyMessage({ accountId: account, userId })));
    await waitFor(async () => (await users(account)).length === 3, { what: 'three users' });
    const first = (await h.request(account, 'GET', '/v1/users?limit=2')).json();
    const second = (await h.request(account, 'GET', `/v1/users?limit=2&cursor=${first.nextCursor}`)).json();
    expect([...first.data, ...second.data].map((u: ApiUser) => u.userId).sort()).toEqual(['p1', 'p2', 'p3']);
    expect(second.nextCursor).toBeNull();
    expect((await h.request(uniqueId('other-'), 'GET', '/v1/users')).json().data).toEqual([]);
    const elsewhere = await h.request(uniqueId('other-'), 'GET', `/v1/users/${first.data[0].id}`);
    expect([elsewhere.statusCode, elsewhere.json()]).toEqual([404, { message: `no user ${first.data[0].id}` }]);
    // The path takes Kana's id; the app's userId there gets a 404 that says which lookup finds it.
    const byAppId = await h.request(account, 'GET', '/v1/users/p1');
    expect([byAppId.statusCode, byAppId.json().message]).toEqual([404, expect.stringContaining("takes Kana's user id")]);
    expect(byAppId.json().message).toContain('GET /v1/users?userId=p1');
    const mergeByAppId = await h.request(account, 'POST', `/v1/users/${first.data[0].id}/merge`, { intoId: 'p2' });
    expect([mergeByAppId.statusCode, mergeByAppId.json().message]).toEqual([404, expect.stringContaining('no user p2 (intoId): intoId takes')]);
    // More than 1000 is capped, as on every list (API.md); nonsense names the field.
    const tooMany = await h.request(account, 'GET', '/v1/users?limit=5000');
    expect([tooMany.statusCode, tooMany.json().data.length]).toEqual([200, 3]);
    const nonsense = await h.request(account, 'GET', '/v1/users?limit=lots');
    expect([nonsense.statusCode, nonsense.json().message]).toEqual([400, expect.stringContaining("'limit'")]);
    // An empty cursor is the first page, so a client may send cursor= before it has one.
    expect((await h.request(account, 'GET', '/v1/users?limit=2&cursor=')).json().data).toEqual(first.data);
    expect((await h.request(account, 'GET', '/v1/users?cursor=garbage')).json().message).toContain("'cursor'");
  });

  it('merges one user into another: the survivor keeps its userId, fills gaps, and a merged change is produced', async () => {
    const account = uniqueId('acc-');
    await h.publish([
      anIdentifyMessage({ accountId: account, userId: 'keep', traits: { name: 'Keep' } }),
      anIdentifyMessage({ accountId: account, userId: 'gone', traits: { name: 'Gone', email: 'gone@x.io', billingUserId: 'cus_GoneBilling1' } }),
    ]);
    const keep = await userWhere(account, 'keep', () => true);
    const gone = await userWhere(account, 'gone', () => true);
    const response = await h.request(account, 'POST', `/v1/users/${gone.id}/merge`, { intoId: keep.id });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: keep.id, userId: 'keep', name: 'Keep', email: 'gone@x.io', billingId: 'cus_GoneBilling1' });
    expect((await h.request(account, 'GET', `/v1/users/${gone.id}`)).statusCode).toBe(404);
    const merged = (await changesOf(account, (kinds) => kinds.includes('merged'))).find((m) => m.value.kind === 'merged')!;
    expect([merged.key, merged.value.user, merged.value.from]).toEqual([`${account}:keep`, { id: keep.id, userId: 'keep' }, { id: gone.id, userId: 'gone' }]);
    expect((await h.request(account, 'POST', `/v1/users/${keep.id}/merge`, {})).json().message).toContain("'intoId'");
    expect((await h.request(account, 'POST', `/v1/users/${keep.id}/merge`, { intoId: keep.id })).statusCode).toBe(400);
  });

  it('remembers a merged-away userId: a newer identify updates the survivor, an older one changes nothing, and usage can find it', async () => {
    const account = uniqueId('acc-');
    await h.publish([
      anIdentifyMessage({ accountId: account, userId: 'main', timestamp: at(1), traits: { name: 'Main' } }),
      anIdentifyMessage({ accountId: account, userId: 'alt', timestamp: at(1), traits: { name: 'Alt' } }),
    ]);
    const main = await userWhere(account, 'main', () => true);
    const alt = await userWhere(account, 'alt', () => true);
    expect((await h.request(account, 'POST', `/v1/users/${alt.id}/merge`, { intoId: main.id })).statusCode).toBe(200);

    // Older than the merge (which happened now): a late retry, already decided by the merge.
    await h.publish([anIdentifyMessage({ accountId: account, userId: 'alt', timestamp: at(2), traits: { name: 'Late' } })]);
    await h.drained();
    expect((await users(account)).map((u) => [u.userId, u.name])).toEqual([['main', 'Main']]);

    await h.publish([anIdentifyMessage({ accountId: account, userId: 'alt', traits: { name: 'Renamed via alt', email: 'main@x.io' } })]);
    const updated = await userWhere(account, 'main', (u) => u.name === 'Renamed via alt');
    expect(updated).toMatchObject({ id: main.id, userId: 'main', email: 'main@x.io' });
    expect(await users(account)).toHaveLength(1);
    expect((await users(account, '&userId=alt')).map((u) => u.id)).toEqual([main.id]);
    const changes = await changesOf(account, (kinds) => kinds.filter((k) => k === 'updated').length >= 1 && kinds.includes('merged'));
    expect(changes.filter((m) => m.value.kind === 'updated').map((m) => [m.key, m.value.user])).toEqual([[`${account}:main`, { id: main.id, userId: 'main' }]]);

    // Deleting the survivor deletes the alias too: an identify for it older than the deletion brings nobody back.
    expect((await h.request(account, 'DELETE', `/v1/users/${main.id}`)).statusCode).toBe(204);
    await h.publish([anIdentifyMessage({ accountId: account, userId: 'alt', timestamp: new Date(Date.now() - 60_000).toISOString() })]);
    await h.drained();
    expect(await users(account)).toEqual([]);
  });

  it('deletes a user (204), produces deleted, and a late older identify does not bring it back', async () => {
    const account = uniqueId('acc-');
    await h.publish([anIdentifyMessage({ accountId: account, userId: 'del', timestamp: at(1) })]);
    const user = await userWhere(account, 'del', () => true);
    expect((await h.request(account, 'DELETE', `/v1/users/${user.id}`)).statusCode).toBe(204);
    expect((await h.request(account, 'DELETE', `/v1/users/${user.id}`)).statusCode).toBe(404);
    // Older than the deletion (which happened now): a late Segment retry.
    await h.publish([anIdentifyMessage({ accountId: account, userId: 'del', timestamp: at(2), traits: { name: 'Back?' } })]);
    await changesOf(account, (kinds) => kinds.includes('deleted'));
    await h.drained();
    expect(await users(account)).toEqual([]);
  });

  it('imports Stripe customers: merges into the only user with the email, skips known ids, refuses bad ids naming the field', async () => {
    const account = uniqueId('acc-');
    await h.publish([anIdentifyMessage({ accountId: account, userId: 'fay', traits: { email: 'fay@x.io' } })]);
    await userWhere(account, 'fay', () => true);
    const body = { customers: [{ id: 'cus_FayStripe0001', email: 'FAY@x.io', name: 'Fay' }, { id: 'cus_NewStripe0001', email: null }] };
    expect((await h.request(account, 'POST', '/v1/users/import', body)).json()).toEqual({ imported: 1, merged: 1, skipped: 0 });
    expect((await h.request(account, 'POST', '/v1/users/import', body)).json()).toEqual({ imported: 0, merged: 0, skipped: 2 });
    expect(await userWhere(account, 'fay', () => true)).toMatchObject({ billingId: 'cus_FayStripe0001', name: 'Fay' });
    const bad = await h.request(account, 'POST', '/v1/users/import', { customers: [{ id: 'cus_FayStripe0002' }, { id: 'fay@x.io' }] });
    expect([bad.statusCode, bad.json().message]).toEqual([400, expect.stringContaining("'customers.1.id'")]);
  });
});
