import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@kana/platform';
import { isEmpty, unionOf, type Selection } from '../domain/selection';
import { countSelected, type Position } from './pg-unmapped-store';

// Reprocess jobs: durable rows with a keyset cursor.
//
// Lifecycle: running (walking) → running (walk_done, waiting for usage's
// verdicts) → done. A newer change of the account supersedes a job that is
// still walking; a job that finished walking is left to complete (all its
// events are already on their way).
// `total` is counted when the job starts (rows can be pruned or added while
// it walks) and becomes the exact number of distinct events sent when the
// walk ends.
//
// When is a walked job done? When every event it sent has usage's verdict,
// or, failing that, when no verdict arrived for the settle interval since
// the walk ended or the last verdict. Usage does not report every event it
// was sent: one it dead-letters (kana.dlq) gets no verdict, nor does the
// second copy of a message that two jobs sent and that usage consumed in one
// batch (it plans each messageId once per batch). Such a job ends `done`
// with processed < total; it still counts a verdict that arrives later
// (each (job, event) at most once), so its numbers never go past the truth.
//
// What a job sent: one reprocess_pages row per page (its message ids, one
// verdict character per event), recorded before the page is sent; each event
// goes out with its address "<job>/<page>/<index>" as the jobId and usage's
// verdict echoes it, so a verdict counts when its character was still '0'.
// Jobs created before migration 005 (paged = false) keep one reprocess_items
// row per event, matched by (job, messageId).
//
// Counters: verdicts are appended to reprocess_progress (one delta row per
// job per consumed batch) instead of rewriting the job row, which the
// walker, every reprocessed batch and every GET would otherwise queue on.
// processed/mapped = the row's folded counts + the deltas; the worker's sweep
// folds the deltas of finished jobs into their row.

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
  /** Records what it sent per page (reprocess_pages, addressed verdicts); false for jobs created before that (reprocess_items). */
  paged: boolean;
  total: number;
  published: number;
  processed: number;
  mapped: number;
  createdAt: string;
}

/** Columns of a job row aliased `j`, with the verdict counters (folded + deltas). */
const COLUMNS = `j.id, j.account_id, j.rules_version, j.status, j.event_names, j.feature_ids, j.cursor_time::text AS cursor_time, j.cursor_message_id,
  j.walk_done, j.paged, j.total, j.published, j.created_at,
  j.processed + COALESCE(d.processed, 0) AS processed, j.mapped + COALESCE(d.mapped, 0) AS mapped`;
const DELTAS = `LEFT JOIN LATERAL (
    SELECT sum(p.processed) AS processed, sum(p.mapped) AS mapped FROM reprocess_progress p WHERE p.job_id = j.id
  ) d ON true`;

function toJob(row: Record<string, unknown>): Job {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    rulesVersion: Number(row.rules_version),
    status: row.status as JobStatus,
    selection: { eventNames: row.event_names as string[], featureIds: row.feature_ids as string[] },
    cursor: row.cursor_time ? { eventTime: row.cursor_time as string, messageId: row.cursor_message_id as string } : undefined,
    walkDone: row.walk_done as boolean,
    paged: row.paged as boolean,
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
  const id = randomUUID();
  await tx.query(
    `INSERT INTO reprocess_jobs (id, account_id, rules_version, status, event_names, feature_ids, walk_done, total, finished_at, walked_at, paged)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 THEN now() END, CASE WHEN $7 THEN now() END, true)`,
    [id, accountId, version, done ? 'done' : 'running', selection.eventNames, selection.featureIds, done, total],
  );
  return (await getJobById(tx, id))!;
}

export async function getJob(db: Db, accountId: string, id: string): Promise<Job | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM reprocess_jobs j ${DELTAS} WHERE j.account_id = $1 AND j.id = $2`, [accountId, id]);
  return rows[0] ? toJob(rows[0]) : undefined;
}

export async function getJobById(db: Db, id: string): Promise<Job | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM reprocess_jobs j ${DELTAS} WHERE j.id = $1`, [id]);
  return rows[0] ? toJob(rows[0]) : undefined;
}

/** Whether the job is still to be walked (not superseded, failed or walked meanwhile): one index lookup, no counters. */
export async function isWalking(db: Db, id: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM reprocess_jobs WHERE id = $1 AND status = 'running' AND NOT walk_done`, [id]);
  return rows.length > 0;
}

/** Newest first. */
export async function listJobs(db: Db, accountId: string, limit: number, before?: { createdAt: string; id: string }): Promise<Job[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM (
       SELECT * FROM reprocess_jobs WHERE account_id = $1
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::text))
       ORDER BY created_at DESC, id DESC LIMIT $4
     ) j ${DELTAS}
     ORDER BY j.created_at DESC, j.id DESC`,
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
 * After Kafka acknowledged every page up to `position`: a crash before this
 * line sends those pages again on resume. `added` (items those pages added)
 * keeps `published` current for the API while walking; finishWalk recounts it.
 */
export async function advanceCursor(db: Db, id: string, position: Position, added: number): Promise<void> {
  await db.query(
    `UPDATE reprocess_jobs SET cursor_time = $2::timestamptz, cursor_message_id = $3, published = published + $4, updated_at = now() WHERE id = $1`,
    [id, position.eventTime, position.messageId, added],
  );
}

/**
 * The walk reached the end: total and published become the exact number of
 * distinct events sent (its items or the events of its recorded pages; a page
 * sent again after a crash added none), and the settle interval starts. Done
 * at once if every verdict is in.
 */
export async function finishWalk(db: Db, id: string): Promise<void> {
  await db.query(
    `WITH sent AS (SELECT (SELECT count(*) FROM reprocess_items WHERE job_id = $1)
       + (SELECT COALESCE(sum(cardinality(message_ids)), 0) FROM reprocess_pages WHERE job_id = $1) AS n)
     UPDATE reprocess_jobs SET walk_done = true, total = sent.n, published = sent.n, walked_at = now(), updated_at = now()
     FROM sent WHERE id = $1 AND NOT walk_done`,
    [id],
  );
  await completeIfAllReported(db, [id]);
}

export async function failJob(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE reprocess_jobs SET status = 'failed', updated_at = now(), finished_at = now() WHERE id = $1 AND status = 'running'`, [id]);
}

/**
 * Walked jobs whose every sent event has a verdict become done. Evaluated per
 * row without locking the rows that do not qualify, so checking after each
 * batch of verdicts never queues behind the walker. Two batches committing
 * at once may each miss the other's deltas: the sweep (settleJobs) catches that.
 */
async function completeIfAllReported(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE reprocess_jobs j SET status = 'done', updated_at = now(), finished_at = now()
     WHERE j.id = ANY($1::text[]) AND j.status = 'running' AND j.walk_done
       AND j.processed + (SELECT COALESCE(sum(p.processed), 0) FROM reprocess_progress p WHERE p.job_id = j.id) >= j.published`,
    [ids],
  );
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
 * account's job) match no item and are ignored. The counts go to one delta
 * row per job (no shared row is updated); a job whose verdicts are now all
 * in becomes done.
 */
export async function recordOutcomes(tx: PoolClient, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const { rows } = await tx.query<{ job_id: string }>(
    `WITH input AS (
       SELECT DISTINCT ON (x.job_id, x.message_id) x.job_id, x.message_id, x.mapped
       FROM jsonb_to_recordset($1::jsonb) AS x(job_id text, account_id text, message_id text, mapped boolean)
       JOIN reprocess_jobs j ON j.id = x.job_id AND j.account_id = x.account_id
     ), updated AS (
       UPDATE reprocess_items i SET mapped = input.mapped FROM input
       WHERE i.job_id = input.job_id AND i.message_id = input.message_id AND i.mapped IS NULL
       RETURNING i.job_id, i.mapped
     )
     INSERT INTO reprocess_progress (job_id, processed, mapped)
     SELECT job_id, count(*), count(*) FILTER (WHERE mapped) FROM updated GROUP BY job_id
     RETURNING job_id`,
    [JSON.stringify(outcomes.map((o) => ({ job_id: o.jobId, account_id: o.accountId, message_id: o.messageId, mapped: o.mapped })))],
  );
  await completeIfAllReported(
    tx,
    rows.map((row) => row.job_id),
  );
}

export interface SettledJob {
  id: string;
  accountId: string;
  published: number;
  processed: number;
}

/**
 * The sweep, run periodically by every instance (idempotent): walked jobs
 * that have every verdict, or have heard none for `settleMs` since the walk
 * ended or the last verdict, become done. Returns the jobs it finished with
 * verdicts missing (usage never reported on published − processed events).
 *
 * A job's own silence is not enough while usage reports on other jobs: its
 * events may wait on kana.track.reprocess behind another account's large
 * replay, and calling it done then would say "done, 0 mapped" while its
 * events are still to be counted. It settles once usage has reported on no
 * job for `settleMs` too, or after ten times `settleMs` of its own silence
 * (so a system that always replays something still ends a job whose
 * remaining events usage dead-lettered).
 */
export async function settleJobs(db: Db, settleMs: number): Promise<SettledJob[]> {
  const { rows } = await db.query(
    `WITH waiting AS (
       SELECT j.id, j.published, j.processed + COALESCE(d.processed, 0) AS processed,
         GREATEST(COALESCE(j.walked_at, j.updated_at), d.last_at) AS last_heard
       FROM reprocess_jobs j
       LEFT JOIN LATERAL (
         SELECT sum(p.processed) AS processed, max(p.at) AS last_at FROM reprocess_progress p WHERE p.job_id = j.id
       ) d ON true
       WHERE j.status = 'running' AND j.walk_done
     )
     UPDATE reprocess_jobs j SET status = 'done', updated_at = now(), finished_at = now()
     FROM waiting w
     WHERE j.id = w.id AND j.status = 'running'
       AND (w.processed >= w.published OR (w.last_heard < now() - $1 * interval '1 millisecond' AND (
         w.last_heard < now() - 10 * $1 * interval '1 millisecond'
         OR NOT EXISTS (SELECT 1 FROM reprocess_progress p WHERE p.at >= now() - $1 * interval '1 millisecond'))))
     RETURNING j.id, j.account_id, w.published, w.processed`,
    [settleMs],
  );
  return rows
    .map((row) => ({ id: row.id as string, accountId: row.account_id as string, published: Number(row.published), processed: Number(row.processed) }))
    .filter((job) => job.processed < job.published);
}

/**
 * Moves the verdict deltas of finished jobs into their row, a few jobs at a
 * time. One statement per job: a reader sees either the deltas or the folded
 * counts, never both or neither; a delta committed meanwhile stays for the
 * next sweep. Returns how many jobs were folded.
 */
export async function foldProgress(db: Db, limit: number): Promise<number> {
  const { rows } = await db.query<{ job_id: string }>(
    `SELECT DISTINCT p.job_id FROM reprocess_progress p JOIN reprocess_jobs j ON j.id = p.job_id WHERE j.status <> 'running' LIMIT $1`,
    [limit],
  );
  for (const { job_id: id } of rows) {
    await db.query(
      `WITH moved AS (DELETE FROM reprocess_progress WHERE job_id = $1 RETURNING processed, mapped)
       UPDATE reprocess_jobs SET processed = processed + (SELECT COALESCE(sum(processed), 0) FROM moved),
         mapped = mapped + (SELECT COALESCE(sum(mapped), 0) FROM moved)
       WHERE id = $1`,
      [id],
    );
  }
  return rows.length;
}

export interface RecordedPage {
  pageNo: number;
  messageIds: string[];
  last: Position;
}

/**
 * Where a paged job's walk stands: the pages recorded after its cursor (read
 * and maybe sent, not known to be acknowledged: they are sent again, by their
 * message ids, with the same addresses), and the last recorded page (the walk
 * reads on after it).
 */
export async function recordedPages(db: Db, id: string, cursor: Position | undefined): Promise<{ unacknowledged: RecordedPage[]; lastPageNo: number; last: Position | undefined }> {
  const { rows } = await db.query(
    `SELECT page_no, last_time::text AS last_time, last_message_id,
       CASE WHEN $2::timestamptz IS NULL OR (last_time, last_message_id) > ($2::timestamptz, $3::text) THEN message_ids END AS message_ids
     FROM reprocess_pages WHERE job_id = $1 ORDER BY page_no`,
    [id, cursor?.eventTime ?? null, cursor?.messageId ?? null],
  );
  const pages = rows.map((row) => ({
    pageNo: row.page_no as number,
    messageIds: row.message_ids as string[] | null,
    last: { eventTime: row.last_time as string, messageId: row.last_message_id as string },
  }));
  const lastPage = pages[pages.length - 1];
  return {
    unacknowledged: pages.filter((page): page is RecordedPage => page.messageIds !== null),
    lastPageNo: lastPage?.pageNo ?? 0,
    last: lastPage?.last,
  };
}

/** The job id a paged job republishes event `index` of page `pageNo` with; usage echoes it in the verdict. */
export function addressOf(jobId: string, pageNo: number, index: number): string {
  return `${jobId}/${pageNo}/${index}`;
}

/** value[from, to) as a number when it is 1 to 9 ASCII digits without a leading zero (as addressOf writes them), else -1. */
function digitsAt(value: string, from: number, to: number): number {
  if (to - from < 1 || to - from > 9 || (to - from > 1 && value.charCodeAt(from) === 0x30)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * An address as addressOf writes it (`<job>/<page>/<index>`, the job id without '/'), split where its parts
 * end; undefined for anything else (a plain job id, a late republish). Read with string positions, not a
 * regular expression and new strings: a replay reads one per event.
 */
function splitAddress(value: string): { jobEnd: number; pageEnd: number; pageNo: number; index: number } | undefined {
  const pageEnd = value.lastIndexOf('/');
  const jobEnd = pageEnd > 0 ? value.lastIndexOf('/', pageEnd - 1) : -1;
  if (jobEnd <= 0 || value.indexOf('/') !== jobEnd) return undefined;
  const pageNo = digitsAt(value, jobEnd + 1, pageEnd);
  const index = pageNo < 0 ? -1 : digitsAt(value, pageEnd + 1, value.length);
  return index < 0 ? undefined : { jobEnd, pageEnd, pageNo, index };
}

/** The addressed verdicts of one recorded page, in arrival order. */
export interface PageVerdicts {
  jobId: string;
  pageNo: number;
  indexes: number[];
  accountIds: string[];
  mapped: boolean[];
}

/**
 * Usage's verdicts split by how their job recorded what it sent: addressed ones (paged jobs) grouped by page,
 * keyed `<job>/<page>` (the address up to its index), the others as they are (reprocess_items).
 */
export function groupVerdicts(outcomes: Outcome[]): { byItem: Outcome[]; byPage: Map<string, PageVerdicts> } {
  const byItem: Outcome[] = [];
  const byPage = new Map<string, PageVerdicts>();
  for (const outcome of outcomes) {
    const address = splitAddress(outcome.jobId);
    if (!address) {
      byItem.push(outcome);
      continue;
    }
    const key = outcome.jobId.slice(0, address.pageEnd);
    let page = byPage.get(key);
    if (!page) byPage.set(key, (page = { jobId: outcome.jobId.slice(0, address.jobEnd), pageNo: address.pageNo, indexes: [], accountIds: [], mapped: [] }));
    page.indexes.push(address.index);
    page.accountIds.push(outcome.accountId);
    page.mapped.push(outcome.mapped);
  }
  return { byItem, byPage };
}

/**
 * Usage's verdicts, whichever way their job recorded what it sent: addressed
 * ones (paged jobs) by their page, the others by reprocess_items. Each counts
 * once per (job, event); a verdict for something the job did not send is ignored.
 */
export async function recordVerdicts(tx: PoolClient, outcomes: Outcome[]): Promise<void> {
  const { byItem, byPage } = groupVerdicts(outcomes);
  await recordOutcomes(tx, byItem);
  await recordPageOutcomes(tx, byPage);
}

/** A page's verdict characters. */
const NO_VERDICT = 0x30; // '0'
const NOT_MAPPED = 0x31; // '1'
const MAPPED = 0x32; // '2'

/** A recorded page as read for its verdicts. */
export interface PageRow {
  job_id: string;
  page_no: number;
  account_id: string;
  verdicts: string;
}

/**
 * Applies grouped verdicts to the recorded pages they name: each verdict whose character is still '0' sets it
 * ('1' processed, '2' mapped) and counts for its job. A verdict whose page was not read (never recorded), whose
 * job is another account's or whose index is outside the page matches nothing and is ignored. Returns the
 * pages that changed, with their new verdicts, and the counts by job.
 */
export function applyVerdicts(
  rows: readonly PageRow[],
  byPage: ReadonlyMap<string, PageVerdicts>,
): { changed: { jobId: string; pageNo: number; verdicts: string }[]; counts: Map<string, { processed: number; mapped: number }> } {
  const read = new Map(rows.map((row) => [`${row.job_id}/${row.page_no}`, row]));
  const changed: { jobId: string; pageNo: number; verdicts: string }[] = [];
  const counts = new Map<string, { processed: number; mapped: number }>();
  for (const [key, page] of byPage) {
    const row = read.get(key);
    if (!row) continue;
    // One byte per event ('0', '1', '2' are one byte in latin1 as in UTF-8).
    const marks = Buffer.from(row.verdicts, 'latin1');
    let count = counts.get(page.jobId);
    let any = false;
    for (let i = 0; i < page.indexes.length; i++) {
      const index = page.indexes[i]!;
      if (page.accountIds[i] !== row.account_id || index >= marks.length || marks[index] !== NO_VERDICT) continue;
      const mapped = page.mapped[i]!;
      marks[index] = mapped ? MAPPED : NOT_MAPPED;
      any = true;
      if (!count) counts.set(page.jobId, (count = { processed: 0, mapped: 0 }));
      count.processed++;
      if (mapped) count.mapped++;
    }
    if (any) changed.push({ jobId: row.job_id, pageNo: row.page_no, verdicts: marks.toString('latin1') });
  }
  return { changed, counts };
}

/**
 * Addressed verdicts: the pages they name are read and locked (in key order,
 * so two batches never deadlock), the verdicts applied (applyVerdicts), the
 * changed pages written back and the counts appended as one delta row per job.
 */
async function recordPageOutcomes(tx: PoolClient, byPage: Map<string, PageVerdicts>): Promise<void> {
  if (byPage.size === 0) return;
  const wanted = [...byPage.values()];
  const { rows } = await tx.query<PageRow>(
    `SELECT p.job_id, p.page_no, j.account_id, p.verdicts
     FROM reprocess_pages p JOIN reprocess_jobs j ON j.id = p.job_id
     WHERE (p.job_id, p.page_no) IN (SELECT * FROM unnest($1::text[], $2::int[]))
     ORDER BY p.job_id, p.page_no FOR UPDATE OF p`,
    [wanted.map((page) => page.jobId), wanted.map((page) => page.pageNo)],
  );
  const { changed, counts } = applyVerdicts(rows, byPage);
  if (changed.length === 0) return;
  await tx.query(
    `UPDATE reprocess_pages p SET verdicts = x.verdicts FROM unnest($1::text[], $2::int[], $3::text[]) AS x(job_id, page_no, verdicts)
     WHERE p.job_id = x.job_id AND p.page_no = x.page_no`,
    [changed.map((page) => page.jobId), changed.map((page) => page.pageNo), changed.map((page) => page.verdicts)],
  );
  const jobIds = [...counts.keys()];
  await tx.query(`INSERT INTO reprocess_progress (job_id, processed, mapped) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])`, [
    jobIds,
    jobIds.map((id) => counts.get(id)!.processed),
    jobIds.map((id) => counts.get(id)!.mapped),
  ]);
  await completeIfAllReported(tx, jobIds);
}
