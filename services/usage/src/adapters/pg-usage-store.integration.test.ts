import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, migrate, type Pool } from '@kana/platform';
import { STACK, dropSchema, migratedSchema, testEnv, uniqueId } from '@kana/platform/testing';
import { usageRecordId, type IdentityChange } from '@kana/schemas';
import { MIGRATIONS_DIR } from '../app';
import { planBatch } from '../domain/batch';
import { aReprocessMessage, aSnapshot, aTrackMessage } from '../test-builders';
import { PgUsageStore } from './pg-usage-store';
import { PgUserAliases } from './pg-user-aliases';
import { PgUsageQueries } from './pg-usage-queries';

describe('Postgres usage store', () => {
  const db = migratedSchema('usage', MIGRATIONS_DIR, 'store');
  let store: PgUsageStore;
  let queries: PgUsageQueries;
  let aliases: PgUserAliases;
  const snapshots = new Map([['acc_1', aSnapshot()]]);

  beforeAll(() => {
    store = new PgUsageStore({ pool: db.pool });
    queries = new PgUsageQueries({ pool: db.pool });
    aliases = new PgUserAliases({ pool: db.pool });
  });

  it('stores an event once, and a retry with another timestamp changes nothing and returns the stored records', async () => {
    const message = aTrackMessage({ properties: { channel: 'sms', delta: '2' } });
    const first = await store.writeBatch(planBatch('track', [{ offset: '1', value: message }], snapshots).planned);
    expect(first[0]).toMatchObject({ status: 'new', mapped: true });
    expect(first[0]!.records.map((r) => [r.featureId, r.delta, r.ruleId]).sort()).toEqual([
      ['messages', 2, 'rule-messages'],
      ['sms', 2, 'rule-sms'],
    ]);
    expect(first[0]!.records.find((r) => r.featureId === 'sms')!.id).toBe(usageRecordId('acc_1', message.event.messageId, 'sms'));

    const retry = { ...message, event: { ...message.event, timestamp: '2025-01-01T00:00:00.000Z' } };
    const second = await store.writeBatch(planBatch('track', [{ offset: '2', value: retry }], snapshots).planned);
    expect(second[0]).toMatchObject({ status: 'existing', mapped: true });
    expect(second[0]!.records.map((r) => r.id).sort()).toEqual(first[0]!.records.map((r) => r.id).sort());

    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM usage_records WHERE message_id = $1', [message.event.messageId]);
    expect(rows[0].n).toBe(2);
  });

  it("stores each event of a batch with its own properties, as sent (quotes, backslashes, unicode, nesting)", async () => {
    const awkward = [
      { channel: 'say "hi"', path: 'C:\\temp\\x', emoji: 'é€😀' },
      { nested: { list: [1, 'two', { three: null }], empty: {} }, delta: '2' },
      {},
      { channel: 'sms', note: '{"not":"json"}', tab: 'a\tb' },
    ];
    const messages = awkward.map((properties, i) => aTrackMessage({ userId: `awkward-${i}`, properties }));
    await store.writeBatch(planBatch('track', messages.map((value, i) => ({ offset: String(i), value })), snapshots).planned);
    const { rows } = await db.pool.query('SELECT message_id, user_id, properties FROM events WHERE message_id = ANY($1)', [messages.map((m) => m.event.messageId)]);
    const stored = new Map(rows.map((row) => [row.message_id, row]));
    for (const message of messages) {
      expect(stored.get(message.event.messageId)).toEqual({ message_id: message.event.messageId, user_id: message.event.userId, properties: message.event.properties });
    }
  });

  it('upgrades a reprocessed event stored unmapped, and never changes a mapped one', async () => {
    const message = aTrackMessage({ event: 'Seat Added' });
    const unmapped = await store.writeBatch(planBatch('track', [{ offset: '1', value: message }], snapshots).planned);
    expect(unmapped[0]).toMatchObject({ status: 'new', mapped: false, reason: 'no_rule', records: [] });

    const v2 = aSnapshot({ version: 2, rules: [{ id: 'rule-seats', featureId: 'messages', eventName: 'Seat Added', conditions: [] }] });
    const replay = aReprocessMessage(message, 2);
    const upgraded = await store.writeBatch(planBatch('reprocess', [{ offset: '1', value: replay }], new Map([['acc_1', v2]])).planned);
    expect(upgraded[0]).toMatchObject({ status: 'upgraded', mapped: true, records: [expect.objectContaining({ featureId: 'messages', ruleId: 'rule-seats' })] });

    const again = await store.writeBatch(planBatch('reprocess', [{ offset: '1', value: replay }], new Map([['acc_1', v2]])).planned);
    expect(again[0]).toMatchObject({ status: 'existing', mapped: true, records: [expect.objectContaining({ featureId: 'messages' })] });
    const { data: totals } = await queries.totals({ accountId: 'acc_1', userId: 'user-1', featureId: 'messages' }, 50, null);
    expect(totals).toEqual([{ userId: 'user-1', featureId: 'messages', total: 3 }]);
  });

  it('stores a replay batch of upgraded, already mapped and never seen events each as Postgres holds it, and a redelivery changes nothing', async () => {
    const unmapped = aTrackMessage({ event: 'Seat Added', timestamp: '2026-11-20T08:00:00.000000Z' });
    const mapped = aTrackMessage();
    await store.writeBatch(planBatch('track', [{ offset: '1', value: unmapped }, { offset: '2', value: mapped }], snapshots).planned);
    const unseen = aTrackMessage({ event: 'Seat Added' });

    const v2 = new Map([['acc_1', aSnapshot({ version: 2, rules: [...aSnapshot().rules, { id: 'rule-seats', featureId: 'sms', eventName: 'Seat Added', conditions: [] }] })]]);
    const replay = [unmapped, mapped, unseen].map((message, i) => ({ offset: String(i), value: aReprocessMessage(message, 2) }));
    const first = await store.writeBatch(planBatch('reprocess', replay, v2).planned);
    expect(first.map((state) => [state.status, state.mapped, state.records.map((r) => r.featureId).sort()])).toEqual([
      ['upgraded', true, ['sms']],
      ['existing', true, ['messages']],
      ['new', true, ['sms']],
    ]);
    expect(first[0]).toMatchObject({ rulesVersion: 2, eventTime: '2026-11-20T08:00:00.000Z' });
    expect(first[0]!.records[0]).toMatchObject({ timestamp: '2026-11-20T08:00:00.000Z', userId: 'user-1', delta: 1, ruleId: 'rule-seats' });
    expect(first[1]).toMatchObject({ rulesVersion: 1 });

    const again = await store.writeBatch(planBatch('reprocess', replay, v2).planned);
    expect(again.map((state) => state.status)).toEqual(['existing', 'existing', 'existing']);
    expect(again.map((state) => state.records)).toEqual(first.map((state) => state.records));
  });

  it('counts a merged-away user toward the survivor, before and after the merge', async () => {
    const account = 'acc_merge';
    const snaps = new Map([[account, aSnapshot({ accountId: account })]]);
    const before = aTrackMessage({ userId: 'old' }, account);
    await store.writeBatch(planBatch('track', [{ offset: '1', value: before }], snaps).planned);
    await aliases.applyChanges([
      { schemaVersion: 1, accountId: account, kind: 'merged', user: { id: 'k2', userId: 'new' }, from: { id: 'k1', userId: 'old' }, at: '2026-11-28T10:00:00.000Z' },
    ]);
    const after = await store.writeBatch(planBatch('track', [{ offset: '2', value: aTrackMessage({ userId: 'old' }, account) }], snaps).planned);
    expect(after[0]!.records[0]!.userId).toBe('new');

    expect((await queries.totals({ accountId: account }, 50, null)).data).toEqual([{ userId: 'new', featureId: 'messages', total: 2 }]);
    expect((await queries.totals({ accountId: account, userId: 'old' }, 50, null)).data).toEqual([{ userId: 'new', featureId: 'messages', total: 2 }]);
    const page = await queries.records({ accountId: account, userId: 'new' }, 1, null);
    expect(page.data).toHaveLength(1);
    const rest = await queries.records({ accountId: account, userId: 'new' }, 1, page.next);
    expect(rest.data).toHaveLength(1);
    expect(rest.data[0]!.id).not.toBe(page.data[0]!.id);
    expect(rest.next).toBeNull();
  });
});

describe('merges and deletions, in any order', () => {
  const db = migratedSchema('usage', MIGRATIONS_DIR, 'aliases');

  it('counts a chain of merges for its last survivor whichever merge usage hears of first', async () => {
    const store = new PgUsageStore({ pool: db.pool });
    const aliases = new PgUserAliases({ pool: db.pool });
    const queries = new PgUsageQueries({ pool: db.pool });
    const account = 'acc_chain';
    const snaps = new Map([[account, aSnapshot({ accountId: account })]]);
    const merged = (from: string, into: string, at: string): IdentityChange => ({ schemaVersion: 1, accountId: account, kind: 'merged', user: { id: `k-${into}`, userId: into }, from: { id: `k-${from}`, userId: from }, at });
    const track = (userId: string, offset: string) => store.writeBatch(planBatch('track', [{ offset, value: aTrackMessage({ userId }, account) }], snaps).planned);
    await track('a', '1');
    await track('b', '2');
    await track('c', '3');
    // a -> b at 10:00, then b -> c at 11:00: keyed by their survivors, so usage may hear of the second first.
    await aliases.applyChanges([merged('b', 'c', '2026-11-28T11:00:00.000Z')]);
    await aliases.applyChanges([merged('a', 'b', '2026-11-28T10:00:00.000Z')]);
    expect((await queries.totals({ accountId: account }, 50, null)).data).toEqual([{ userId: 'c', featureId: 'messages', total: 3 }]);
    const later = await track('a', '4');
    expect(later[0]!.records[0]!.userId).toBe('c');
    // Redelivered, in one batch and the other order: the same table.
    await aliases.applyChanges([merged('a', 'b', '2026-11-28T10:00:00.000Z'), merged('b', 'c', '2026-11-28T11:00:00.000Z')]);
    const { rows } = await db.pool.query('SELECT user_id, survivor_user_id FROM user_aliases WHERE account_id = $1 ORDER BY user_id', [account]);
    expect(rows).toEqual([{ user_id: 'a', survivor_user_id: 'c' }, { user_id: 'b', survivor_user_id: 'c' }]);
    expect((await queries.totals({ accountId: account, userId: 'a' }, 50, null)).data).toEqual([{ userId: 'c', featureId: 'messages', total: 4 }]);
  });

  it('keeps the history it had, merged-away usage included, and the merged-away userId counts for itself again', async () => {
    const store = new PgUsageStore({ pool: db.pool });
    const aliases = new PgUserAliases({ pool: db.pool });
    const queries = new PgUsageQueries({ pool: db.pool });
    const account = 'acc_deleted';
    const snaps = new Map([[account, aSnapshot({ accountId: account })]]);
    const track = async (userId: string, offset: string) => (await store.writeBatch(planBatch('track', [{ offset, value: aTrackMessage({ userId }, account) }], snaps).planned))[0]!.records[0]!.userId;
    const change = (kind: 'merged' | 'deleted', user: string, at: string, from?: string): IdentityChange => ({
      schemaVersion: 1, accountId: account, kind, user: { id: `k-${user}`, userId: user }, from: from ? { id: `k-${from}`, userId: from } : null, at,
    });
    expect(await track('a', '1')).toBe('a');
    await aliases.applyChanges([change('merged', 'b', '2026-11-28T10:00:00.000Z', 'a')]);
    expect(await track('a', '2')).toBe('b');
    const deleted = change('deleted', 'b', new Date(Date.now() + 1).toISOString());
    await aliases.applyChanges([deleted]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Identity creates a, asked again, anew: its usage is its own from now on.
    expect(await track('a', '3')).toBe('a');
    expect((await queries.totals({ accountId: account }, 50, null)).data).toEqual([
      { userId: 'a', featureId: 'messages', total: 1 },
      { userId: 'b', featureId: 'messages', total: 2 },
    ]);
    // Redelivered, the deletion rewrites nothing more.
    await aliases.applyChanges([deleted]);
    expect((await queries.totals({ accountId: account, userId: 'a' }, 50, null)).data).toEqual([{ userId: 'a', featureId: 'messages', total: 1 }]);
  });
});

describe('migration 004 (merges logged)', () => {
  const db = schemaBefore('004');

  it('keeps the aliases of merges applied before it when the account merges again', async () => {
    await db.migrateBefore();
    await db.pool.query(`INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at) VALUES ('acc_1', 'old', 'new', '2026-11-01T00:00:00Z')`);
    await db.migrateAll();
    await new PgUserAliases({ pool: db.pool }).applyChanges([
      { schemaVersion: 1, accountId: 'acc_1', kind: 'merged', user: { id: 'k-new', userId: 'new' }, from: { id: 'k-x', userId: 'x' }, at: '2026-11-28T10:00:00.000Z' },
    ]);
    const { rows } = await db.pool.query(`SELECT user_id, survivor_user_id FROM user_aliases WHERE account_id = 'acc_1' ORDER BY user_id`);
    expect(rows).toEqual([{ user_id: 'old', survivor_user_id: 'new' }, { user_id: 'x', survivor_user_id: 'new' }]);
  });
});

describe('migration 003 (the outcome moves to message_keys)', () => {
  const db = schemaBefore('003');

  it('keeps the outcome of events stored before it, and a later replay upgrades them', async () => {
    await db.migrateBefore();
    const rows = [
      ['m-unmapped', 'unmapped', 'no_rule', 1],
      ['m-mapped', 'mapped', null, 1],
    ] as const;
    for (const [messageId, outcome, reason, version] of rows) {
      await db.pool.query(`INSERT INTO message_keys (account_id, message_id, event_time) VALUES ('acc_1', $1, '2026-11-20T10:00:00Z')`, [messageId]);
      await db.pool.query(
        `INSERT INTO events (account_id, message_id, event_time, user_id, event_name, properties, received_at, outcome, reason, rules_version)
         VALUES ('acc_1', $1, '2026-11-20T10:00:00Z', 'user-1', 'Seat Added', '{}', '2026-11-20T10:00:00Z', $2, $3, $4)`,
        [messageId, outcome, reason, version],
      );
    }

    await db.migrateAll();
    const keys = await db.pool.query('SELECT message_id, outcome, reason, rules_version FROM message_keys ORDER BY message_id');
    expect(keys.rows).toEqual([
      { message_id: 'm-mapped', outcome: 'mapped', reason: null, rules_version: 1 },
      { message_id: 'm-unmapped', outcome: 'unmapped', reason: 'no_rule', rules_version: 1 },
    ]);

    const v2 = aSnapshot({ version: 2, rules: [{ id: 'rule-seats', featureId: 'messages', eventName: 'Seat Added', conditions: [] }] });
    const stored = aTrackMessage({ event: 'Seat Added', messageId: 'm-unmapped', timestamp: '2026-11-20T10:00:00.000Z' });
    const [upgraded] = await new PgUsageStore({ pool: db.pool }).writeBatch(planBatch('reprocess', [{ offset: '1', value: aReprocessMessage(stored, 2) }], new Map([['acc_1', v2]])).planned);
    expect(upgraded).toMatchObject({ status: 'upgraded', mapped: true, records: [expect.objectContaining({ featureId: 'messages', timestamp: '2026-11-20T10:00:00.000Z' })] });
  });
});

/**
 * A schema of its own and a folder of the migrations before `first`: the test migrates to the
 * database as it was before them, stores rows the way that version did, then migrates the rest.
 */
function schemaBefore(first: string) {
  const env = testEnv('usage', uniqueId(`mig${first}`));
  let before = '';
  const db = {
    pool: undefined as unknown as Pool,
    migrateBefore: () => migrate(db.pool, { schema: env.DATABASE_SCHEMA!, dir: before }),
    migrateAll: () => migrate(db.pool, { schema: env.DATABASE_SCHEMA!, dir: MIGRATIONS_DIR }),
  };
  beforeAll(async () => {
    db.pool = createPool({ url: STACK.DATABASE_URL, schema: env.DATABASE_SCHEMA! });
    before = await mkdtemp(join(tmpdir(), 'usage-migrations-'));
    for (const file of (await readdir(MIGRATIONS_DIR)).filter((name) => name < first)) await copyFile(join(MIGRATIONS_DIR, file), join(before, file));
  });
  afterAll(async () => {
    await db.pool.end();
    await dropSchema(env.DATABASE_SCHEMA!);
    await rm(before, { recursive: true, force: true });
  });
  return db;
}
