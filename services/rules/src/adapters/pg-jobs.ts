import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@kana/platform';
import { isEmpty, unionOf, type Selection } from '../domain/selection';
import { countSelected, type Position } from './pg-unmapped-store';

// Reprocess jobs: durable rows with a keyset cursor.
//
// Lifecycle: running (walking) → running (walk_done, waiting for usage's
// outcomes) → done when every published event has an outcome. A newer change
// of the account supersedes a job that is still walking; a job that finished
// walking is left to complete (all its events are already on their way).
// `total` is counted when the job starts (rows can be pruned or added while
// it walks) and becomes the exact number of distinct events sent when the
// walk ends; it is done when every one of them has usage's verdict.

type Db = Pool | PoolClient;

export type JobStatus = 'running' | 'done' | 'superseded' | 'failed';

export interface Job {
  id: string;
  accountId: string;
  rulesVersion: number;
  status: JobStatus;
  selection: Selection;
  cursor: Position | undefined;
  walkDone: boolean;
  total: number;
  published: number;
  processed: number;
  mapped: number;
  createdAt: string;
}

const COLUMNS = `id, account_id, rules_version, status, event_names, feature_ids, cursor_time::text AS cursor_time, cursor_message_id,
  walk_done, total, published, processed, mapped, created_at`;

function toJob(row: Record<string, unknown>): Job {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    rulesVersion: Number(row.rules_version),
    status: row.status as JobStatus,
    selection: { eventNames: row.event_names as string[], featureIds: row.feature_ids as string[] },
    cursor: row.cursor_time ? { eventTime: row.cursor_time as string, messageId: row.cursor_message_id as string } : undefined,
    walkDone: row.walk_done as boolean,
    total: Number(row.total),
    published: Number(row.published),
    processed: Number(row.processed),
    mapped: Number(row.mapped),
    createdAt: (row.created_at as Date).toISOString(),
  };
}

/**
 * Called in the change's transaction (after the version bump, whose row lock
 * serialises the account's changes): supersedes the account's walking jobs
 * and starts one over their scopes plus the change's own, from the start.
 */
export async function startJob(tx: PoolClient, accountId: string, version: number, own: Selection): Promise<Job> {
  const superseded = await tx.query<{ event_names: string[]; feature_ids: string[] }>(
    `UPDATE reprocess_jobs SET status = 'superseded', updated_at = now(), finished_at = now()
     WHERE account_id = $1 AND status = 'running' AND NOT walk_done RETURNING event_names, feature_ids`,
    [accountId],
  );
  const selection = unionOf(own, ...superseded.rows.map((row) => ({ eventNames: row.event_names, featureIds: row.feature_ids })));
  const total = isEmpty(selection) ? 0 : await countSelected(tx, accountId, version, selection);
  const done = total === 0;
  const { rows } = await tx.query(
    `INSERT INTO reprocess_jobs (id, account_id, rules_version, status, event_names, feature_ids, walk_done, total, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 THEN now() END) RETURNING ${COLUMNS}`,
    [randomUUID(), accountId, version, done ? 'done' : 'running', selection.eventNames, selection.featureIds, done, total],
  );
  return toJob(rows[0]!);
}

export async function getJob(db: Db, accountId: string, id: string): Promise<Job | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM reprocess_jobs WHERE account_id = $1 AND id = $2`, [accountId, id]);
  return rows[0] ? toJob(rows[0]) : undefined;
}

export async function getJobById(db: Db, id: string): Promise<Job | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM reprocess_jobs WHERE id = $1`, [id]);
  return rows[0] ? toJob(rows[0]) : undefined;
}

/** Newest first. */
export async function listJobs(db: Db, accountId: string, limit: number, before?: { createdAt: string; id: string }): Promise<Job[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM reprocess_jobs WHERE account_id = $1
       AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::text))
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [accountId, before?.createdAt ?? null, before?.id ?? null, limit],
  );
  return rows.map(toJob);
}

/** Jobs still walking, oldest first: candidates for a worker. */
export async function walkingJobIds(db: Db, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM reprocess_jobs WHERE status = 'running' AND NOT walk_done ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return rows.map((row) => row.id);
}

/**
 * Before a page is sent: its events become the job's items. Only rows not
 * yet there count, so a page sent again after a crash adds nothing.
 */
export async function addItems(db: Db, id: string, messageIds: string[]): Promise<void> {
  await db.query(
    `WITH added AS (
       INSERT INTO reprocess_items (job_id, message_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING 1
     )
     UPDATE reprocess_jobs SET published = published + (SELECT count(*) FROM added), updated_at = now() WHERE id = $1`,
    [id, messageIds],
  );
}

/** After Kafka acknowledged the page: a crash before this line sends the page again on resume. */
export async function advanceCursor(db: Db, id: string, position: Position): Promise<void> {
  await db.query(`UPDATE reprocess_jobs SET cursor_time = $2::timestamptz, cursor_message_id = $3, updated_at = now() WHERE id = $1`, [
    id,
    position.eventTime,
    position.messageId,
  ]);
}

/** The walk reached the end: total becomes the exact number sent; done at once if every verdict is in. */
export async function finishWalk(db: Db, id: string): Promise<void> {
  await db.query(
    `UPDATE reprocess_jobs SET walk_done = true, total = published, updated_at = now(),
       status = CASE WHEN status = 'running' AND processed >= published THEN 'done' ELSE status END,
       finished_at = CASE WHEN status = 'running' AND processed >= published THEN now() ELSE finished_at END
     WHERE id = $1 AND NOT walk_done`,
    [id],
  );
}

export async function failJob(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE reprocess_jobs SET status = 'failed', updated_at = now(), finished_at = now() WHERE id = $1 AND status = 'running'`, [id]);
}

export interface Outcome {
  jobId: string;
  accountId: string;
  messageId: string;
  mapped: boolean;
}

/**
 * Records usage's verdicts once per (job, event): only items whose verdict
 * was still missing count, so a redelivered batch changes nothing. Verdicts
 * for events a job did not send (late republishes, unknown jobs, another
 * account's job) match no item and are ignored.
 */
export async function recordOutcomes(tx: PoolClient, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await tx.query(
    `WITH input AS (
       SELECT DISTINCT ON (x.job_id, x.message_id) x.job_id, x.message_id, x.mapped
       FROM jsonb_to_recordset($1::jsonb) AS x(job_id text, account_id text, message_id text, mapped boolean)
       JOIN reprocess_jobs j ON j.id = x.job_id AND j.account_id = x.account_id
     ), updated AS (
       UPDATE reprocess_items i SET mapped = input.mapped FROM input
       WHERE i.job_id = input.job_id AND i.message_id = input.message_id AND i.mapped IS NULL
       RETURNING i.job_id, i.mapped
     ), counts AS (
       SELECT job_id, count(*) AS n, count(*) FILTER (WHERE mapped) AS m FROM updated GROUP BY job_id
     )
     UPDATE reprocess_jobs j SET processed = j.processed + c.n, mapped = j.mapped + c.m, updated_at = now(),
       status = CASE WHEN j.status = 'running' AND j.walk_done AND j.processed + c.n >= j.published THEN 'done' ELSE j.status END,
       finished_at = CASE WHEN j.status = 'running' AND j.walk_done AND j.processed + c.n >= j.published THEN now() ELSE j.finished_at END
     FROM counts c WHERE j.id = c.job_id`,
    [JSON.stringify(outcomes.map((o) => ({ job_id: o.jobId, account_id: o.accountId, message_id: o.messageId, mapped: o.mapped })))],
  );
}
