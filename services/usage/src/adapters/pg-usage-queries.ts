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

export interface TotalsPage {
  data: UsageTotal[];
  next: { userId: string; featureId: string } | null;
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

export class PgUsageQueries {
  constructor(private readonly deps: { pool: Pool }) {}

  /**
   * Totals per (user, feature), ordered by userId then featureId; `after` is
   * the last pair of the previous page. Every page sums over all of the
   * account's records in the range, so a page is exact however records are
   * spread over users, and a merge is applied the same way on every page.
   */
  async totals(filter: UsageFilter, limit: number, after: { userId: string; featureId: string } | null): Promise<TotalsPage> {
    const userIds = filter.userId === undefined ? null : await this.userIds(filter.accountId, filter.userId);
    const { rows } = await this.deps.pool.query<{ user_id: string; feature_id: string; total: string }>(
      `SELECT user_id, feature_id, total FROM (
         SELECT COALESCE(a.survivor_user_id, r.user_id) AS user_id, r.feature_id, sum(r.delta)::text AS total
         FROM usage_records r
         LEFT JOIN user_aliases a ON a.account_id = r.account_id AND a.user_id = r.user_id
         WHERE r.account_id = $1
           AND ($2::timestamptz IS NULL OR r.event_time >= $2) AND ($3::timestamptz IS NULL OR r.event_time < $3)
           AND ($4::text IS NULL OR r.feature_id = $4) AND ($5::text[] IS NULL OR r.user_id = ANY($5))
         GROUP BY 1, 2
       ) t
       WHERE $6::text IS NULL OR (user_id COLLATE "C", feature_id COLLATE "C") > ($6::text COLLATE "C", $7::text COLLATE "C")
       ORDER BY user_id COLLATE "C", feature_id COLLATE "C"
       LIMIT $8`,
      [filter.accountId, filter.from ?? null, filter.to ?? null, filter.featureId ?? null, userIds, after?.userId ?? null, after?.featureId ?? null, limit + 1],
    );
    const page = rows.slice(0, limit).map((row) => ({ userId: row.user_id, featureId: row.feature_id, total: Number(row.total) }));
    const last = page[page.length - 1];
    return { data: page, next: rows.length > limit && last ? { userId: last.userId, featureId: last.featureId } : null };
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
         AND ($2::timestamptz IS NULL OR r.event_time >= $2) AND ($3::timestamptz IS NULL OR r.event_time < $3)
         AND ($4::text IS NULL OR r.feature_id = $4) AND ($5::text[] IS NULL OR r.user_id = ANY($5))
         AND ($6::timestamptz IS NULL OR (r.event_time, r.id) > ($6, $7::uuid))
       ORDER BY r.event_time, r.id
       LIMIT $8`,
      [filter.accountId, filter.from ?? null, filter.to ?? null, filter.featureId ?? null, userIds, after?.eventTime ?? null, after?.id ?? null, limit + 1],
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
