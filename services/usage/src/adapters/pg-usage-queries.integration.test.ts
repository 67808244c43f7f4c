import { migratedSchema } from '@kana/platform/testing';
import { MIGRATIONS_DIR } from '../app';
import { PgUsageQueries, type TotalsPosition, type UsageFilter, type UsageTotal } from './pg-usage-queries';

/**
 * GET /v1/usage without a userId, as a billing run walks it: page after page
 * with the cursor of the one before, every (user, feature) exactly once with
 * the sum of its records, a merged-away userId's records in its survivor's.
 */
describe('account-wide usage totals, page by page', () => {
  const db = migratedSchema('usage', MIGRATIONS_DIR, 'totals');
  const account = 'acc_pages';
  // Either way of reading the pages: every account walks its users, or every account groups its records.
  let walking: PgUsageQueries;
  let grouping: PgUsageQueries;

  // Deterministic spread: 120 users, 3 features, two months, and aliases whose survivors sort before and after
  // them; survivors with no records of their own: one at the end, three in a row between two users, and 70
  // between the first user and the second, more than the walk reads at once.
  const aliases = new Map([
    ['u005', 'u002'],
    ['u006', 'u002'],
    ['u003', 'u031'],
    ['u017', 'zz-survivor-only-through-aliases'],
    ['u018', 'zz-survivor-only-through-aliases'],
    ['u025', 'u024'],
    ['u033', 'u010a'],
    ['u034', 'u010b'],
    ['u035', 'u010c'],
    ...Array.from({ length: 70 }, (_, i) => [`u${String(50 + i).padStart(3, '0')}`, `u000-s${String(i).padStart(2, '0')}`] as const),
  ]);
  const records = Array.from({ length: 1800 }, (_, i) => ({
    messageId: `m-${i}`,
    userId: `u${String((i * 7) % 120).padStart(3, '0')}`,
    featureId: ['api-calls', 'messages', 'seats'][Math.floor(i / 120) % 3]!,
    delta: (i % 5) + 1,
    eventTime: new Date(Date.UTC(2026, 9 + (i % 2), 1 + (i % 28), i % 24)).toISOString(),
  }));

  beforeAll(async () => {
    const { pool } = db;
    walking = new PgUsageQueries({ pool, fewRecords: 0 });
    grouping = new PgUsageQueries({ pool, fewRecords: 1_000_000 });
    for (const [accountId, rows] of [
      [account, records],
      // Another account's records, under the same userIds, count for nobody here.
      ['acc_other', records.slice(0, 50)],
    ] as const) {
      await pool.query(
        `INSERT INTO usage_records (id, account_id, message_id, feature_id, user_id, delta, rule_id, event_time)
         SELECT gen_random_uuid(), $1, m, f, u, d, NULL, t FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::timestamptz[]) AS x(m, f, u, d, t)`,
        [accountId, rows.map((r) => r.messageId), rows.map((r) => r.featureId), rows.map((r) => r.userId), rows.map((r) => r.delta), rows.map((r) => r.eventTime)],
      );
    }
    await pool.query(
      `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at) SELECT $1, u, s, now() FROM unnest($2::text[], $3::text[]) AS x(u, s)`,
      [account, [...aliases.keys()], [...aliases.values()]],
    );
  });

  /** What the records add up to, computed here: the survivor's userId for an alias, ordered by userId then featureId. */
  function expected(filter: Omit<UsageFilter, 'accountId'>): UsageTotal[] {
    const sums = new Map<string, UsageTotal>();
    for (const record of records) {
      if (filter.from && record.eventTime < filter.from) continue;
      if (filter.to && record.eventTime >= filter.to) continue;
      if (filter.featureId && record.featureId !== filter.featureId) continue;
      const userId = aliases.get(record.userId) ?? record.userId;
      const key = `${userId}\u0000${record.featureId}`;
      const total = sums.get(key) ?? { userId, featureId: record.featureId, total: 0 };
      total.total += record.delta;
      sums.set(key, total);
    }
    return [...sums.values()].sort((a, b) => (a.userId === b.userId ? cmp(a.featureId, b.featureId) : cmp(a.userId, b.userId)));
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

  async function walk(queries: PgUsageQueries, filter: Omit<UsageFilter, 'accountId'>, limit: number): Promise<UsageTotal[]> {
    const seen: UsageTotal[] = [];
    let after: TotalsPosition | null = null;
    for (let pages = 0; pages < 500; pages++) {
      const page = await queries.totals({ accountId: account, ...filter }, limit, after);
      expect(page.data.length).toBeLessThanOrEqual(limit);
      seen.push(...page.data);
      if (!page.next) return seen;
      expect(page.data).toHaveLength(limit);
      after = page.next;
    }
    throw new Error('the pages never ended');
  }

  it.each([1, 2, 3, 7, 50, 1000])('gives every pair once with its total, %i a page, walking users or grouping records', async (limit) => {
    const all = expected({});
    expect(all.length).toBeGreaterThan(300);
    expect(all.filter((t) => !t.userId.match(/^u\d{3}$/)).length).toBe(3 * 74);
    expect(all.some((t) => aliases.has(t.userId))).toBe(false);
    expect(await walk(walking, {}, limit)).toEqual(all);
    expect(await walk(grouping, {}, limit)).toEqual(all);
  });

  it.each([
    { from: '2026-11-01T00:00:00.000Z' },
    { to: '2026-10-15T00:00:00.000Z' },
    { from: '2026-10-10T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z', featureId: 'messages' },
    { featureId: 'seats' },
    { from: '2027-01-01T00:00:00.000Z' },
  ])('applies the range and feature filters on every page (%o)', async (filter) => {
    expect(await walk(walking, filter, 4)).toEqual(expected(filter));
    expect(await walk(grouping, filter, 4)).toEqual(expected(filter));
  });

  it('walks the users of a range with many records and groups the records of one with few, the whole way', async () => {
    const queries = new PgUsageQueries({ pool: db.pool, fewRecords: 100 });
    const month = { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };
    const hours = { from: '2026-11-02T00:00:00.000Z', to: '2026-11-02T06:00:00.000Z' };
    expect(records.filter((r) => r.eventTime >= hours.from && r.eventTime < hours.to).length).toBeLessThan(100);
    const first = await queries.totals({ accountId: account, ...month }, 5, null);
    expect(first.next).toMatchObject({ walk: true });
    expect((await queries.totals({ accountId: account, ...month }, 5, first.next)).next).toMatchObject({ walk: true });
    const few = await queries.totals({ accountId: account, ...hours }, 1, null);
    expect(few.next).toMatchObject({ walk: false });
    expect((await queries.totals({ accountId: account, ...hours }, 1, few.next)).next).toMatchObject({ walk: false });
    // A cursor from before the walk was written down: the same pairs, walking.
    const { walk: _, ...older } = first.next!;
    const after = await queries.totals({ accountId: account, ...month }, 5, older);
    expect(after.data).toEqual((await grouping.totals({ accountId: account, ...month }, 5, { ...older, walk: false })).data);
    expect(after.next).toMatchObject({ walk: true });
  });
});
