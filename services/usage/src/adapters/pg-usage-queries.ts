import type { Pool } from '@kana/platform';

export interface UsageTotal {
  userId: string;
  featureId: string;
  total: number;
}

export interface UsageRecordView {
  id: string;
  userId: string;
  featureId: string;
  delta: number;
  messageId: string;
  ruleId: string | null;
  timestamp: string;
}

export interface UsageFilter {
  accountId: string;
  userId?: string;
  featureId?: string;
  from?: string;
  to?: string;
}

/**
 * Where a page of totals ends: its last pair, and whether the pages after it
 * walk the account's users (accountTotals) or group every record of the range
 * (decided on the first page; both give the same pairs in the same order).
 */
export interface TotalsPosition {
  userId: string;
  featureId: string;
  walk?: boolean;
}

export interface TotalsPage {
  data: UsageTotal[];
  next: TotalsPosition | null;
}

export interface RecordsPage {
  data: UsageRecordView[];
  next: { eventTime: string; id: string } | null;
}

// Every query counts a merged-away userId's usage toward its survivor: the
// user filter expands to the survivor and all its aliases, and rows report
// the survivor's userId.
const USER_IDS = `
  WITH survivor AS (
    SELECT COALESCE((SELECT survivor_user_id FROM user_aliases WHERE account_id = $1 AND user_id = $2), $2) AS user_id
  )
  SELECT user_id FROM survivor
  UNION SELECT a.user_id FROM user_aliases a, survivor s WHERE a.account_id = $1 AND a.survivor_user_id = s.user_id`;

type TotalRow = { user_id: string; feature_id: string; total: string };

/** A record of the account in the filter's range ($2 from, $3 to) and of its feature ($4), when given: see rangeParams. */
const IN_RANGE = `($2::timestamptz IS NULL OR r.event_time >= $2) AND ($3::timestamptz IS NULL OR r.event_time < $3)
  AND ($4::text IS NULL OR r.feature_id = $4)`;

/** $1 to $4 of a query with IN_RANGE: the account, then the range and feature IN_RANGE reads. */
const rangeParams = (filter: UsageFilter) => [filter.accountId, filter.from ?? null, filter.to ?? null, filter.featureId ?? null];

/**
 * Below this many records in its range, the account's totals are grouped from
 * every one of them for each page; at or above it, the pages walk the users.
 * Grouping reads ~0.3 us a record, walking ~1 us a record of the page's users
 * (one heap page each) plus a probe a user (bench/usage/queries.js), so
 * grouping is the cheaper way while the whole range costs about what one
 * walked page does, and the only one that never reads outside the range: an
 * hour of a large account's usage is a few records, where its users'
 * index entries are millions.
 */
const FEW_RECORDS = 50_000;

function totalsPage(rows: TotalRow[], limit: number, walk: boolean): TotalsPage {
  const page = rows.slice(0, limit).map((row) => ({ userId: row.user_id, featureId: row.feature_id, total: Number(row.total) }));
  const last = page[page.length - 1];
  return { data: page, next: rows.length > limit && last ? { userId: last.userId, featureId: last.featureId, walk } : null };
}

export class PgUsageQueries {
  private readonly fewRecords: number;

  /** `fewRecords`: see FEW_RECORDS (tests set it to have either way taken). */
  constructor(private readonly deps: { pool: Pool; fewRecords?: number }) {
    this.fewRecords = deps.fewRecords ?? FEW_RECORDS;
  }

  /**
   * Totals per (user, feature), ordered by userId then featureId (in the
   * column's collation); `after` is where the previous page ended. A
   * merged-away userId's usage counts for its survivor, the same way on every
   * page.
   */
  async totals(filter: UsageFilter, limit: number, after: TotalsPosition | null): Promise<TotalsPage> {
    // A cursor from before walks existed (no `walk`) walks: the same pairs either way.
    const walk = filter.userId === undefined && (after ? after.walk !== false : !(await this.hasFewRecords(filter)));
    if (walk) return this.accountTotals(filter, limit, after);
    const userIds = filter.userId === undefined ? null : await this.userIds(filter.accountId, filter.userId);
    const { rows } = await this.deps.pool.query<TotalRow>(
      `SELECT user_id, feature_id, total FROM (
         SELECT COALESCE(a.survivor_user_id, r.user_id) AS user_id, r.feature_id, sum(r.delta)::text AS total
         FROM usage_records r
         LEFT JOIN user_aliases a ON a.account_id = r.account_id AND a.user_id = r.user_id
         WHERE r.account_id = $1 AND ${IN_RANGE} AND ($5::text[] IS NULL OR r.user_id = ANY($5))
         GROUP BY 1, 2
       ) t
       WHERE $6::text IS NULL OR (user_id, feature_id) > ($6::text, $7::text)
       ORDER BY user_id, feature_id
       LIMIT $8`,
      [...rangeParams(filter), userIds, after?.userId ?? null, after?.featureId ?? null, limit + 1],
    );
    return totalsPage(rows, limit, false);
  }

  /** Whether the account has fewer than `fewRecords` records in the filter's range (reads at most that many). */
  private async hasFewRecords(filter: UsageFilter): Promise<boolean> {
    const { rows } = await this.deps.pool.query<{ few: boolean }>(
      `SELECT count(*) < $5 AS few FROM (SELECT 1 FROM usage_records r WHERE r.account_id = $1 AND ${IN_RANGE} LIMIT $5) s`,
      [...rangeParams(filter), this.fewRecords],
    );
    return rows[0]!.few;
  }

  /**
   * The account's totals, every user. A page reads the records of the users
   * on it (through the user index of migration 006), not every record of the
   * account in the range, so a billing run that walks all pages reads each
   * record about once. It walks the account's users in order, a few at a time
   * (nextUsers), and sums each one's records with its aliases'; users with no
   * record in the range add nothing and the walk goes on. In the column's
   * collation, which the index walks.
   */
  private async accountTotals(filter: UsageFilter, limit: number, after: TotalsPosition | null): Promise<TotalsPage> {
    const rows: TotalRow[] = [];
    let from: { userId: string; inclusive: boolean } | null = after && { userId: after.userId, inclusive: true };
    for (let users = 64; rows.length <= limit; users *= 2) {
      const step = await this.nextUsers(filter, from, Math.min(users, limit + 1 - rows.length));
      if (step.users.length > 0) {
        const { rows: pairs } = await this.deps.pool.query<TotalRow>(
          `WITH keys AS (SELECT unnest($5::text[]) AS user_id),
           ids AS (
             SELECT user_id, user_id AS survivor FROM keys
             UNION ALL SELECT a.user_id, a.survivor_user_id FROM user_aliases a JOIN keys k ON a.account_id = $1 AND a.survivor_user_id = k.user_id
           )
           SELECT ids.survivor AS user_id, r.feature_id, sum(r.delta)::text AS total
           FROM ids JOIN usage_records r ON r.account_id = $1 AND r.user_id = ids.user_id
           WHERE ${IN_RANGE}
           GROUP BY ids.survivor, r.feature_id
           HAVING $6::text IS NULL OR (ids.survivor, r.feature_id) > ($6::text, $7::text)
           ORDER BY ids.survivor, r.feature_id`,
          [...rangeParams(filter), step.users, after?.userId ?? null, after?.featureId ?? null],
        );
        rows.push(...pairs);
      }
      if (step.walkedTo === null) break;
      from = { userId: step.walkedTo, inclusive: false };
    }
    return totalsPage(rows, limit, true);
  }

  /**
   * The next users whose usage is their own, in order from `from`: userIds of
   * the account's records in the range that are nobody's alias (a loose walk
   * of the user index, one probe a user), and survivors of merges (their
   * records may all be under their aliases). Each list is read up to `count`
   * ids; the users returned are every one up to `walkedTo`, the last id both
   * lists are known to be complete to (null: both ran out).
   */
  private async nextUsers(filter: UsageFilter, from: { userId: string; inclusive: boolean } | null, count: number): Promise<{ users: string[]; walkedTo: string | null }> {
    const start = from?.inclusive ? '>=' : '>';
    const { rows } = await this.deps.pool.query<{ survivor: boolean; user_id: string; alias: boolean }>(
      `WITH RECURSIVE walk(user_id) AS (
         (SELECT r.user_id FROM usage_records r WHERE r.account_id = $1 AND ${IN_RANGE} AND ($5::text IS NULL OR r.user_id ${start} $5)
          ORDER BY r.user_id LIMIT 1)
         UNION ALL
         SELECT (SELECT r.user_id FROM usage_records r WHERE r.account_id = $1 AND ${IN_RANGE} AND r.user_id > w.user_id ORDER BY r.user_id LIMIT 1)
         FROM walk w WHERE w.user_id IS NOT NULL
       ),
       recorded AS (SELECT user_id FROM walk WHERE user_id IS NOT NULL LIMIT $6),
       survivors AS (
         SELECT DISTINCT survivor_user_id AS user_id FROM user_aliases
         WHERE account_id = $1 AND ($5::text IS NULL OR survivor_user_id ${start} $5) ORDER BY 1 LIMIT $6
       )
       SELECT false AS survivor, w.user_id, EXISTS (SELECT 1 FROM user_aliases a WHERE a.account_id = $1 AND a.user_id = w.user_id) AS alias FROM recorded w
       UNION ALL SELECT true, user_id, false FROM survivors
       ORDER BY user_id`,
      [...rangeParams(filter), from?.userId ?? null, count],
    );
    // A list that came back full may go on past its last id: nothing after the first such last id is complete.
    let end = rows.length;
    for (const survivor of [false, true]) {
      const indexes = rows.flatMap((row, index) => (row.survivor === survivor ? [index] : []));
      if (indexes.length === count) end = Math.min(end, indexes[indexes.length - 1]!);
    }
    const users = new Set(rows.slice(0, end + 1).filter((row) => !row.alias).map((row) => row.user_id));
    return { users: [...users], walkedTo: end < rows.length ? rows[end]!.user_id : null };
  }

  /** Oldest first by event time, then id; `after` is the last row of the previous page. */
  async records(filter: UsageFilter, limit: number, after: { eventTime: string; id: string } | null): Promise<RecordsPage> {
    const userIds = filter.userId === undefined ? null : await this.userIds(filter.accountId, filter.userId);
    const { rows } = await this.deps.pool.query<{
      id: string;
      user_id: string;
      feature_id: string;
      delta: string;
      message_id: string;
      rule_id: string | null;
      event_time: Date;
      cursor_time: string;
    }>(
      `SELECT r.id, COALESCE(a.survivor_user_id, r.user_id) AS user_id, r.feature_id, r.delta::text AS delta, r.message_id, r.rule_id,
              r.event_time, to_char(r.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time
       FROM usage_records r
       LEFT JOIN user_aliases a ON a.account_id = r.account_id AND a.user_id = r.user_id
       WHERE r.account_id = $1
         AND ${IN_RANGE} AND ($5::text[] IS NULL OR r.user_id = ANY($5))
         AND ($6::timestamptz IS NULL OR (r.event_time, r.id) > ($6, $7::uuid))
       ORDER BY r.event_time, r.id
       LIMIT $8`,
      [...rangeParams(filter), userIds, after?.eventTime ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map((row) => ({
        id: row.id,
        userId: row.user_id,
        featureId: row.feature_id,
        delta: Number(row.delta),
        messageId: row.message_id,
        ruleId: row.rule_id,
        timestamp: row.event_time.toISOString(),
      })),
      next: rows.length > limit && last ? { eventTime: last.cursor_time, id: last.id } : null,
    };
  }

  private async userIds(accountId: string, userId: string): Promise<string[]> {
    const { rows } = await this.deps.pool.query<{ user_id: string }>(USER_IDS, [accountId, userId]);
    return rows.map((row) => row.user_id);
  }
}
