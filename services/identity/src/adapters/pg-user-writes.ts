import type { IdentityChange } from '@kana/schemas';
import { userKey } from '@kana/schemas';
import type { PoolClient } from '@kana/platform';
import type { IdentityIssue, UserRecord } from '../domain/user';
import { lostRace } from './pg-errors';
import { toColumns, USER_COLUMNS, userValue } from './pg-rows';

// Set-based writes used inside a caller's transaction: one statement per kind
// of change, whatever the batch size.

export async function insertUsers(client: PoolClient, users: UserRecord[]): Promise<void> {
  if (users.length === 0) return;
  const { values, types } = toColumns(users);
  const args = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  // DO NOTHING + count instead of an error: a userId another instance created
  // meanwhile means our view was stale, so the whole batch is retried.
  const select = USER_COLUMNS.split(', ').map(userValue).join(', ');
  const result = await client.query(
    `INSERT INTO users (${USER_COLUMNS}) SELECT ${select} FROM unnest(${args}) AS v(${USER_COLUMNS}) ON CONFLICT DO NOTHING`,
    values,
  );
  if (result.rowCount !== users.length) throw lostRace('a user with one of these userIds was created by another instance');
}

export async function updateUsers(client: PoolClient, users: UserRecord[]): Promise<void> {
  if (users.length === 0) return;
  const { values, types } = toColumns(users);
  const args = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  const sets = USER_COLUMNS.split(', ')
    .filter((column) => column !== 'id' && column !== 'account_id' && column !== 'created_at')
    .map((column) => `${column} = ${userValue(column)}`)
    .join(', ');
  await client.query(`UPDATE users u SET ${sets} FROM unnest(${args}) AS v(${USER_COLUMNS}) WHERE u.id = v.id`, values);
}

export async function deleteUsers(client: PoolClient, ids: string[]): Promise<void> {
  if (ids.length > 0) await client.query('DELETE FROM users WHERE id = ANY($1::uuid[])', [ids]);
}

export async function insertIssues(client: PoolClient, all: IdentityIssue[]): Promise<void> {
  // One statement may not upsert the same row twice: keep the latest of each.
  const latest = new Map<string, IdentityIssue>();
  for (const issue of all) {
    const key = JSON.stringify([issue.accountId, issue.userId, issue.kind, issue.detail]);
    const seen = latest.get(key);
    if (!seen || Date.parse(issue.at) > Date.parse(seen.at)) latest.set(key, issue);
  }
  const issues = [...latest.values()];
  if (issues.length === 0) return;
  await client.query(
    `INSERT INTO identity_issues (account_id, user_id, kind, detail, at, email_normalized)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
     ON CONFLICT (account_id, user_id, kind, detail) DO UPDATE SET at = greatest(identity_issues.at, excluded.at)`,
    [
      issues.map((i) => i.accountId), issues.map((i) => i.userId), issues.map((i) => i.kind), issues.map((i) => i.detail), issues.map((i) => i.at),
      issues.map((i) => i.email ?? null),
    ],
  );
}

/** Key of a change: the user's topic key, or `accountId:` + Kana's id for an import without userId. */
export function changeKey(change: IdentityChange): string {
  return change.user.userId === null ? `${change.accountId}:${change.user.id}` : userKey(change.accountId, change.user.userId);
}

/** An outbox row: changes committed with the data, produced after the commit (see OutboxRelay). */
export interface OutboxEntry {
  seq: string;
  changes: IdentityChange[];
}

/**
 * Writes `changes` as one outbox row of `source`. With `takeOver`, the rows
 * that `source` left behind (its batch committed but the changes were not
 * produced: a crash or Kafka down) are deleted and their changes put first in
 * the new row, so they are produced before the new ones, in order.
 */
export async function insertOutbox(client: PoolClient, source: string, changes: IdentityChange[], options: { takeOver?: boolean } = {}): Promise<OutboxEntry | undefined> {
  let all = changes;
  if (options.takeOver) {
    const { rows } = await client.query<{ seq: string; changes: IdentityChange[] }>('DELETE FROM outbox_batches WHERE source = $1 RETURNING seq, changes', [source]);
    rows.sort((a, b) => Number(BigInt(a.seq) - BigInt(b.seq)));
    if (rows.length > 0) all = [...rows.flatMap((row) => row.changes), ...changes];
  }
  if (all.length === 0) return undefined;
  const { rows } = await client.query<{ seq: string }>('INSERT INTO outbox_batches (source, changes) VALUES ($1, $2::json) RETURNING seq', [source, JSON.stringify(all)]);
  return { seq: rows[0]!.seq, changes: all };
}
