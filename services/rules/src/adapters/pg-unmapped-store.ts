import type { Pool, PoolClient } from '@kana/platform';
import { namedFeatureId, type TrackEvent, type UnmappedMessage, type UnmappedReason } from '@kana/schemas';
import type { Selection } from '../domain/selection';

// The unmapped-event store. Keyset positions are (event_time as Postgres text,
// message_id): the text form round-trips microseconds exactly, a JS Date would not.

type Db = Pool | PoolClient;

export interface StoredEvent {
  eventTime: string;
  messageId: string;
  userId: string;
  reason: UnmappedReason;
  requestId: string;
  receivedAt: string;
  event: TrackEvent;
}

export interface Position {
  eventTime: string;
  messageId: string;
}

// Aliased apart from event_time: ORDER BY event_time must sort (and use the
// index on) the timestamptz column, not its text form.
const COLUMNS = `event_time::text AS event_time_text, message_id, user_id, reason, request_id, received_at, event`;

function toStored(row: Record<string, unknown>): StoredEvent {
  return {
    eventTime: row.event_time_text as string,
    messageId: row.message_id as string,
    userId: row.user_id as string,
    reason: row.reason as UnmappedReason,
    requestId: row.request_id as string,
    receivedAt: row.received_at as string,
    event: row.event as TrackEvent,
  };
}

/**
 * Idempotent by (account, messageId): a redelivered or newer verdict replaces
 * the reason and version, an older one (evaluated with an older rules
 * version) never overwrites a newer one.
 */
export async function upsertUnmapped(tx: PoolClient, messages: UnmappedMessage[]): Promise<void> {
  const latest = new Map<string, UnmappedMessage>();
  for (const message of messages) {
    const key = `${message.accountId}\u0000${message.event.messageId}`;
    const seen = latest.get(key);
    if (!seen || seen.rulesVersion <= message.rulesVersion) latest.set(key, message);
  }
  const rows = [...latest.values()].map((message) => {
    return {
      account_id: message.accountId,
      event_time: message.event.timestamp,
      message_id: message.event.messageId,
      user_id: message.event.userId,
      event_name: message.event.event,
      feature_id: namedFeatureId(message.event.properties) ?? null,
      reason: message.reason,
      rules_version: message.rulesVersion,
      request_id: message.requestId,
      received_at: message.receivedAt,
      event: message.event,
    };
  });
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO unmapped_events (account_id, event_time, message_id, user_id, event_name, feature_id, reason, rules_version, request_id, received_at, event)
     SELECT account_id, event_time, message_id, user_id, event_name, feature_id, reason, rules_version, request_id, received_at, event
     FROM json_to_recordset($1::json) AS x(account_id text, event_time timestamptz, message_id text, user_id text, event_name text,
       feature_id text, reason text, rules_version bigint, request_id text, received_at text, event json)
     ON CONFLICT (account_id, event_time, message_id) DO UPDATE
       SET reason = excluded.reason, rules_version = excluded.rules_version, stored_at = now()
       WHERE unmapped_events.rules_version <= excluded.rules_version`,
    [JSON.stringify(rows)],
  );
}

/**
 * Usage mapped these after reprocessing: they leave the unmapped list.
 * Planned once per connection (generic plan of a named statement): planned
 * for each batch's literal array, Postgres spent ~40 ms weighing every month
 * partition for thousands of ids and then chose a sequential scan of the
 * whole partition, per batch (a million-event replay rescanned it some 200
 * times). The generic plan is an index lookup per id: ~15 ms for 5,000.
 */
export async function deleteUnmapped(tx: PoolClient, accountId: string, messageIds: string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
  const { rowCount } = await tx.query({
    name: 'rules-delete-unmapped',
    text: 'DELETE FROM unmapped_events WHERE account_id = $1 AND message_id = ANY($2::text[])',
    values: [accountId, messageIds],
  });
  return rowCount ?? 0;
}

export interface ListFilter {
  eventName?: string;
  userId?: string;
}

/** Newest first. */
export async function listUnmapped(db: Db, accountId: string, filter: ListFilter, limit: number, before?: Position): Promise<StoredEvent[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM unmapped_events
     WHERE account_id = $1 AND ($2::text IS NULL OR event_name = $2) AND ($3::text IS NULL OR user_id = $3)
       AND ($4::timestamptz IS NULL OR (event_time, message_id) < ($4::timestamptz, $5::text))
     ORDER BY event_time DESC, message_id DESC LIMIT $6`,
    [accountId, filter.eventName ?? null, filter.userId ?? null, before?.eventTime ?? null, before?.messageId ?? null, limit],
  );
  return rows.map(toStored);
}

/**
 * A page of the stored events a rule for `eventName` could map (no featureId), oldest first, for the preview: each one's position and
 * properties only, what a rule's conditions read. Postgres takes the properties out of the stored event, so
 * the rest of it (context, integrations: most of its bytes) is neither sent nor parsed.
 */
export async function propertiesByEventName(
  db: Db,
  accountId: string,
  eventName: string,
  limit: number,
  after?: Position,
): Promise<{ position: Position; properties: Record<string, unknown> }[]> {
  const { rows } = await db.query<{ event_time_text: string; message_id: string; properties: Record<string, unknown> | null }>(
    `SELECT event_time::text AS event_time_text, message_id, event->'properties' AS properties FROM unmapped_events
     WHERE account_id = $1 AND event_name = $2 AND feature_id IS NULL
       AND ($3::timestamptz IS NULL OR (event_time, message_id) > ($3::timestamptz, $4::text))
     ORDER BY event_time, message_id LIMIT $5`,
    [accountId, eventName, after?.eventTime ?? null, after?.messageId ?? null, limit],
  );
  return rows.map((row) => ({ position: { eventTime: row.event_time_text, messageId: row.message_id }, properties: row.properties ?? {} }));
}

/** The stored events of these message ids, in the order given (ids not stored are left out). */
export async function storedByMessageIds(db: Db, accountId: string, messageIds: readonly string[]): Promise<StoredEvent[]> {
  if (messageIds.length === 0) return [];
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM unmapped_events WHERE account_id = $1 AND message_id = ANY($2::text[])`, [accountId, messageIds]);
  const byId = new Map(rows.map((row) => [row.message_id as string, toStored(row)]));
  return messageIds.flatMap((id) => byId.get(id) ?? []);
}

const SELECTED = `account_id = $1 AND rules_version < $2
  AND ((event_name = ANY($3::text[]) AND feature_id IS NULL) OR feature_id = ANY($4::text[]))`;

/** How many stored events a job for `version` over `selection` has to republish (those evaluated with an older version). */
export async function countSelected(db: Db, accountId: string, version: number, selection: Selection): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM unmapped_events WHERE ${SELECTED}`, [
    accountId,
    version,
    selection.eventNames,
    selection.featureIds,
  ]);
  return Number(rows[0]!.n);
}

/**
 * The next page of a job's walk, in primary-key order so the cursor never
 * skips or repeats a row; in the same statement the page's events become
 * items of `jobId` (reprocess_items, before anything is sent). `added` counts the
 * items that were not there yet: a page read again after a crash adds none.
 */
export async function takePage(
  db: Db,
  jobId: string,
  accountId: string,
  version: number,
  selection: Selection,
  limit: number,
  after?: Position,
): Promise<{ events: StoredEvent[]; added: number }> {
  const { rows } = await db.query(
    `WITH page AS (
       SELECT event_time, ${COLUMNS} FROM unmapped_events
       WHERE ${SELECTED} AND ($5::timestamptz IS NULL OR (event_time, message_id) > ($5::timestamptz, $6::text))
       ORDER BY event_time, message_id LIMIT $7
     ), added AS (
       INSERT INTO reprocess_items (job_id, message_id) SELECT $8, message_id FROM page ON CONFLICT DO NOTHING RETURNING 1
     )
     SELECT event_time_text, message_id, user_id, reason, request_id, received_at, event, (SELECT count(*) FROM added) AS added
     FROM page ORDER BY event_time, message_id`,
    [accountId, version, selection.eventNames, selection.featureIds, after?.eventTime ?? null, after?.messageId ?? null, limit, jobId],
  );
  return { events: rows.map(toStored), added: rows.length > 0 ? Number(rows[0].added) : 0 };
}

/** One event of a page a paged job republishes: the stored event as its JSON text, spliced into the message as is. */
export interface PageEvent {
  messageId: string;
  userId: string;
  requestId: string;
  receivedAt: string;
  eventJson: string;
}

function toPageEvent(row: Record<string, unknown>): PageEvent {
  return {
    messageId: row.message_id as string,
    userId: row.user_id as string,
    requestId: row.request_id as string,
    receivedAt: row.received_at as string,
    eventJson: row.event as string,
  };
}

/**
 * The next page of a paged job's walk, in primary-key order, recorded in the
 * same statement as page `pageNo` of the job (reprocess_pages: its message
 * ids in walk order, its last position, no verdicts yet) before anything is
 * sent. The index of an event in `events` is its index in the page.
 */
export async function takeRecordedPage(
  db: Db,
  jobId: string,
  pageNo: number,
  accountId: string,
  version: number,
  selection: Selection,
  limit: number,
  after?: Position,
): Promise<{ events: PageEvent[]; last: Position | undefined }> {
  const { rows } = await db.query(
    `WITH page AS (
       SELECT event_time, message_id, user_id, request_id, received_at, event FROM unmapped_events
       WHERE ${SELECTED} AND ($5::timestamptz IS NULL OR (event_time, message_id) > ($5::timestamptz, $6::text))
       ORDER BY event_time, message_id LIMIT $7
     ), recorded AS (
       INSERT INTO reprocess_pages (job_id, page_no, message_ids, last_time, last_message_id, verdicts)
       SELECT $8, $9, a.ids, l.event_time, l.message_id, repeat('0', cardinality(a.ids))
       FROM (SELECT array_agg(message_id ORDER BY event_time, message_id) AS ids FROM page) a,
         (SELECT event_time, message_id FROM page ORDER BY event_time DESC, message_id DESC LIMIT 1) l
       RETURNING last_time::text AS last_time, last_message_id
     )
     SELECT p.message_id, p.user_id, p.request_id, p.received_at, p.event::text AS event, r.last_time, r.last_message_id
     FROM page p, recorded r ORDER BY p.event_time, p.message_id`,
    [accountId, version, selection.eventNames, selection.featureIds, after?.eventTime ?? null, after?.messageId ?? null, limit, jobId, pageNo],
  );
  const first = rows[0];
  return {
    events: rows.map(toPageEvent),
    last: first ? { eventTime: first.last_time as string, messageId: first.last_message_id as string } : undefined,
  };
}

/**
 * A recorded page sent again (its cursor was not saved): the events of
 * `messageIds` still in the store, each with its index in the page. Events
 * gone from the store were mapped, so their first copy reached usage.
 */
export async function rereadPage(db: Db, accountId: string, messageIds: string[]): Promise<{ index: number; event: PageEvent }[]> {
  const { rows } = await db.query(
    `SELECT message_id, user_id, request_id, received_at, event::text AS event FROM unmapped_events WHERE account_id = $1 AND message_id = ANY($2::text[])`,
    [accountId, messageIds],
  );
  const index = new Map(messageIds.map((id, i) => [id, i]));
  return rows.map((row) => ({ index: index.get(row.message_id as string)!, event: toPageEvent(row) })).sort((a, b) => a.index - b.index);
}

/**
 * Monthly partitions around now, so the months that take traffic are their own
 * tables (detachable later); anything outside lands in the default partition.
 * A month whose rows already sit in the default partition cannot be split out
 * without moving them, so that month stays in the default (logged).
 */
export async function ensureMonthlyPartitions(pool: Pool, now: Date, monthsBack: number, monthsAhead: number, onSkip: (name: string, error: Error) => void): Promise<void> {
  for (let offset = -monthsBack; offset <= monthsAhead; offset++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
    const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
    const name = `unmapped_events_${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF unmapped_events FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
      );
    } catch (error) {
      onSkip(name, error as Error);
    }
  }
}
