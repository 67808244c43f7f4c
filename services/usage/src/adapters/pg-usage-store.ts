import { usageRecordId, SCHEMA_VERSION, type UnmappedReason, type UsageRecord } from '@kana/schemas';
import { AppError, inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { eventKey, type PlannedEvent, type StoredEvent } from '../domain/batch';

/** Times come back as ISO text (ISO_TIME): no Date parsed per row only to be printed again. */
interface RecordRow {
  id: string;
  account_id: string;
  message_id: string;
  feature_id: string;
  user_id: string;
  delta: string;
  rule_id: string | null;
  event_time: string;
  recorded_at: string;
}

interface ExistingRow {
  account_id: string;
  message_id: string;
  event_time: string;
  outcome: 'mapped' | 'unmapped';
  reason: UnmappedReason | null;
  rules_version: number;
  /** Changed by this transaction's upgrade (its outcome may still be unmapped, with the newer version). */
  upgraded?: boolean;
}

interface RecordDraft {
  key: string;
  accountId: string;
  messageId: string;
  userId: string;
  delta: number;
  hit: { featureId: string; ruleId: string | null };
  eventTime: string;
}

/**
 * Writes one batch in one transaction with a handful of bulk statements
 * (never one per event) and returns, per planned event, what Postgres holds
 * afterwards. Either the whole batch is stored or nothing is; the consumer
 * produces outputs only after the commit and commits offsets only after that,
 * so a crash at any point replays the batch and the unique keys absorb it.
 */
export class PgUsageStore {
  constructor(private readonly deps: { pool: Pool }) {}

  writeBatch(planned: PlannedEvent[]): Promise<StoredEvent[]> {
    if (planned.length === 0) return Promise.resolve([]);
    return inTransaction(this.deps.pool, async (client) => {
      const keys = planned.map(keyOf);
      // A reprocessed event stored unmapped takes the new outcome; a mapped one never changes. Such an event is
      // nearly always stored already (usage reported it unmapped), so it is updated first: the UPDATE returns its
      // row, and a replay batch needs no key insert and no read of the rows it changed.
      const existing = await upgradeUnmapped(client, planned.filter((event) => event.source === 'reprocess'));
      const rest = existing.size > 0 ? planned.filter((_, i) => !existing.has(keys[i]!)) : planned;
      const fresh = rest.length > 0 ? await insertKeys(client, rest) : new Set<string>();
      const newEvents: PlannedEvent[] = [];
      const oldEvents: PlannedEvent[] = [];
      if (fresh.size === rest.length) newEvents.push(...rest);
      else for (const event of rest) (fresh.has(keyOf(event)) ? newEvents : oldEvents).push(event);
      if (newEvents.length > 0) await insertEvents(client, newEvents);
      // A reprocessed event whose key another transaction committed while this one waited on it (the UPDATE's
      // snapshot did not see it yet): try its upgrade again now. Usually none; after a redelivery, mapped ones.
      for (const [key, row] of await upgradeUnmapped(client, oldEvents.filter((event) => event.source === 'reprocess'))) existing.set(key, row);
      const unread = oldEvents.filter((event) => !existing.has(keyOf(event)));
      if (unread.length > 0) for (const [key, row] of await readExisting(client, unread)) existing.set(key, row);

      const drafts: RecordDraft[] = [];
      const unchangedMapped: ExistingRow[] = [];
      planned.forEach((event, i) => {
        const key = keys[i]!;
        const row = existing.get(key);
        const eventTime = fresh.has(key) ? event.message.event.timestamp : row?.upgraded && row.outcome === 'mapped' ? row.event_time : undefined;
        if (row && row.outcome === 'mapped' && !row.upgraded) unchangedMapped.push(row);
        if (!event.outcome.mapped || eventTime === undefined) return;
        const { accountId, event: track } = event.message;
        for (const hit of event.outcome.features) {
          drafts.push({ key, accountId, messageId: track.messageId, userId: track.userId, delta: event.outcome.delta, hit, eventTime });
        }
      });
      const records = await insertRecords(client, drafts);
      for (const row of await readRecords(client, unchangedMapped)) addTo(records, eventKey(row.account_id, row.message_id), toUsageRecord(row));

      return planned.map((event, i): StoredEvent => {
        const key = keys[i]!;
        if (fresh.has(key)) {
          return {
            status: 'new',
            mapped: event.outcome.mapped,
            reason: event.outcome.mapped ? null : event.outcome.reason,
            rulesVersion: event.rulesVersion,
            eventTime: event.message.event.timestamp,
            records: records.get(key) ?? [],
          };
        }
        const row = existing.get(key);
        if (!row) throw new AppError(`stored event ${key} has a key but no row`, { code: 'KANA_USAGE_INCONSISTENT' });
        return {
          status: row.upgraded && row.outcome === 'mapped' ? 'upgraded' : 'existing',
          mapped: row.outcome === 'mapped',
          reason: row.reason,
          rulesVersion: row.rules_version,
          eventTime: row.event_time,
          records: records.get(key) ?? [],
        };
      });
    });
  }
}

function keyOf(event: PlannedEvent): string {
  return eventKey(event.message.accountId, event.message.event.messageId);
}

async function insertKeys(client: PoolClient, planned: PlannedEvent[]): Promise<Set<string>> {
  const { rows } = await client.query<{ account_id: string; message_id: string }>(
    `INSERT INTO message_keys (account_id, message_id, event_time, outcome, reason, rules_version)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int[])
     ON CONFLICT DO NOTHING
     RETURNING account_id, message_id`,
    [
      planned.map((e) => e.message.accountId),
      planned.map((e) => e.message.event.messageId),
      planned.map((e) => e.message.event.timestamp),
      planned.map((e) => (e.outcome.mapped ? 'mapped' : 'unmapped')),
      planned.map((e) => (e.outcome.mapped ? null : e.outcome.reason)),
      planned.map((e) => e.rulesVersion),
    ],
  );
  return new Set(rows.map((row) => eventKey(row.account_id, row.message_id)));
}

/**
 * The properties travel as one JSON array, expanded by Postgres next to the other columns (ROWS FROM zips
 * them by position). As a jsonb[] parameter each event's JSON had to be escaped into an array literal by pg,
 * character by character: ~4.5 us an event of the usage service's one thread.
 */
async function insertEvents(client: PoolClient, events: PlannedEvent[]): Promise<void> {
  await client.query(
    `INSERT INTO events (account_id, message_id, event_time, user_id, event_name, properties, received_at)
     SELECT * FROM ROWS FROM (unnest($1::text[]), unnest($2::text[]), unnest($3::timestamptz[]), unnest($4::text[]), unnest($5::text[]),
       jsonb_array_elements($6::jsonb), unnest($7::timestamptz[]))`,
    [
      events.map((e) => e.message.accountId),
      events.map((e) => e.message.event.messageId),
      events.map((e) => e.message.event.timestamp),
      events.map((e) => e.message.event.userId),
      events.map((e) => e.message.event.event),
      JSON.stringify(events.map((e) => e.message.event.properties)),
      events.map((e) => e.message.receivedAt),
    ],
  );
}

/** A timestamptz as Date.toISOString() prints it (UTC, milliseconds), straight from Postgres. */
const ISO_TIME = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The message_keys row of each event of the batch (`columns` of it), one primary-key lookup per event. As a
 * plain join the planner, which knows the batch size from the bound array, hashes the whole of message_keys (every
 * event ever stored) once the batch is a few thousand events: 90 ms a batch at 200,000 keys, and growing
 * with the table. A subquery with LIMIT is never flattened into the join, so this stays an index lookup
 * whatever the table size.
 */
const keyLookup = (columns: string) => `SELECT ${columns} FROM message_keys k WHERE k.account_id = u.account_id AND k.message_id = u.message_id LIMIT 1`;

/**
 * The rows it changed, as they are now (`upgraded` set on each). Only the narrow message_keys row changes
 * (migration 003): the stored event itself is never rewritten. The row is found by its ctid from the lookup,
 * so the UPDATE joins nothing else. A row another transaction changed while this one waited for it has a new
 * ctid, so it is skipped here, not overwritten: writeBatch then tries it again or reads it as it now is.
 */
async function upgradeUnmapped(client: PoolClient, events: PlannedEvent[]): Promise<Map<string, ExistingRow>> {
  if (events.length === 0) return new Map();
  const { rows } = await client.query<ExistingRow>(
    `UPDATE message_keys m SET outcome = u.outcome, reason = u.reason, rules_version = u.rules_version
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(account_id, message_id, outcome, reason, rules_version)
     CROSS JOIN LATERAL (${keyLookup('k.ctid')}) k
     WHERE m.ctid = k.ctid AND m.outcome = 'unmapped' AND m.rules_version <= u.rules_version
     RETURNING m.account_id, m.message_id, ${ISO_TIME('m.event_time')} AS event_time, m.outcome, m.reason, m.rules_version, true AS upgraded`,
    [
      events.map((e) => e.message.accountId),
      events.map((e) => e.message.event.messageId),
      events.map((e) => (e.outcome.mapped ? 'mapped' : 'unmapped')),
      events.map((e) => (e.outcome.mapped ? null : e.outcome.reason)),
      events.map((e) => e.rulesVersion),
    ],
  );
  return new Map(rows.map((row) => [eventKey(row.account_id, row.message_id), row]));
}

async function readExisting(client: PoolClient, events: PlannedEvent[]): Promise<Map<string, ExistingRow>> {
  const { rows } = await client.query<ExistingRow>(
    `SELECT k.account_id, k.message_id, ${ISO_TIME('k.event_time')} AS event_time, k.outcome, k.reason, k.rules_version
     FROM unnest($1::text[], $2::text[]) AS u(account_id, message_id)
     CROSS JOIN LATERAL (${keyLookup('*')}) k`,
    [events.map((e) => e.message.accountId), events.map((e) => e.message.event.messageId)],
  );
  return new Map(rows.map((row) => [eventKey(row.account_id, row.message_id), row]));
}

/**
 * Records of a merged-away userId are written for the survivor (alias looked up in the same statement). Only
 * what the statement decides comes back (the id of each inserted record, its user and time); the rest of the
 * record is the draft's. Returns the inserted records by event key.
 */
async function insertRecords(client: PoolClient, drafts: RecordDraft[]): Promise<Map<string, UsageRecord[]>> {
  const byKey = new Map<string, UsageRecord[]>();
  if (drafts.length === 0) return byKey;
  const ids = drafts.map((d) => usageRecordId(d.accountId, d.messageId, d.hit.featureId));
  const { rows } = await client.query<{ id: string; user_id: string; event_time: string; recorded_at: string }>(
    `INSERT INTO usage_records (id, account_id, message_id, feature_id, user_id, delta, rule_id, event_time)
     SELECT u.id, u.account_id, u.message_id, u.feature_id, COALESCE(a.survivor_user_id, u.user_id), u.delta, u.rule_id, u.event_time
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[], $8::timestamptz[])
       AS u(id, account_id, message_id, feature_id, user_id, delta, rule_id, event_time)
     LEFT JOIN user_aliases a ON a.account_id = u.account_id AND a.user_id = u.user_id
     ON CONFLICT DO NOTHING
     RETURNING id, user_id, ${ISO_TIME('event_time')} AS event_time, ${ISO_TIME('recorded_at')} AS recorded_at`,
    [
      ids,
      drafts.map((d) => d.accountId),
      drafts.map((d) => d.messageId),
      drafts.map((d) => d.hit.featureId),
      drafts.map((d) => d.userId),
      drafts.map((d) => d.delta),
      drafts.map((d) => d.hit.ruleId),
      drafts.map((d) => d.eventTime),
    ],
  );
  const draftById = new Map(ids.map((id, i) => [id, drafts[i]!]));
  for (const row of rows) {
    const draft = draftById.get(row.id)!;
    addTo(byKey, draft.key, {
      schemaVersion: SCHEMA_VERSION,
      id: row.id,
      accountId: draft.accountId,
      userId: row.user_id,
      featureId: draft.hit.featureId,
      delta: draft.delta,
      messageId: draft.messageId,
      ruleId: draft.hit.ruleId,
      timestamp: row.event_time,
      recordedAt: row.recorded_at,
    });
  }
  return byKey;
}

async function readRecords(client: PoolClient, events: ExistingRow[]): Promise<RecordRow[]> {
  if (events.length === 0) return [];
  const { rows } = await client.query<RecordRow>(
    `SELECT r.id, r.account_id, r.message_id, r.feature_id, r.user_id, r.delta, r.rule_id,
       ${ISO_TIME('r.event_time')} AS event_time, ${ISO_TIME('r.recorded_at')} AS recorded_at
     FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(account_id, message_id, event_time)
     -- OFFSET 0 keeps the lookup per event (see keyLookup): never a scan of every record.
     CROSS JOIN LATERAL (
       SELECT * FROM usage_records r WHERE r.account_id = u.account_id AND r.message_id = u.message_id AND r.event_time = u.event_time OFFSET 0
     ) r`,
    [events.map((e) => e.account_id), events.map((e) => e.message_id), events.map((e) => e.event_time)],
  );
  return rows;
}

function addTo(byKey: Map<string, UsageRecord[]>, key: string, record: UsageRecord): void {
  const list = byKey.get(key);
  if (list) list.push(record);
  else byKey.set(key, [record]);
}

function toUsageRecord(row: RecordRow): UsageRecord {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    featureId: row.feature_id,
    delta: Number(row.delta),
    messageId: row.message_id,
    ruleId: row.rule_id,
    timestamp: row.event_time,
    recordedAt: row.recorded_at,
  };
}
