import type { Pool, PoolClient } from '@kana/platform';
import { conditionOf, type Condition, type RulesSnapshot } from '@kana/schemas';

// Features, rules and the account's rules version. Writes take the
// transaction's client: a change, its version bump and its reprocess job
// commit together or not at all.

export interface Feature {
  id: string;
  name: string;
  createdAt: string;
}

export interface Rule {
  id: string;
  featureId: string;
  eventName: string;
  conditions: Condition[];
  enabled: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

type Db = Pool | PoolClient;

const RULE_COLUMNS = 'id, feature_id, event_name, conditions, enabled, version, created_at, updated_at';

interface RuleRow {
  id: string;
  feature_id: string;
  event_name: string;
  conditions: Condition[];
  enabled: boolean;
  version: string;
  created_at: Date;
  updated_at: Date;
}

function toRule(row: RuleRow): Rule {
  return {
    id: row.id,
    featureId: row.feature_id,
    eventName: row.event_name,
    // jsonb keeps an object's keys shortest first: answered in the order the API documents.
    conditions: row.conditions.map(conditionOf),
    enabled: row.enabled,
    version: Number(row.version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toFeature(row: { id: string; name: string; created_at: Date }): Feature {
  return { id: row.id, name: row.name, createdAt: row.created_at.toISOString() };
}

/** Bumps (or creates) the account's version; the row lock serialises concurrent changes of one account. */
export async function bumpVersion(tx: PoolClient, accountId: string): Promise<number> {
  const { rows } = await tx.query<{ version: string }>(
    `INSERT INTO account_versions (account_id, version) VALUES ($1, 1)
     ON CONFLICT (account_id) DO UPDATE SET version = account_versions.version + 1 RETURNING version`,
    [accountId],
  );
  return Number(rows[0]!.version);
}

export async function insertFeature(tx: PoolClient, accountId: string, id: string, name: string): Promise<Feature | undefined> {
  const { rows } = await tx.query(
    `INSERT INTO features (account_id, id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id, name, created_at`,
    [accountId, id, name],
  );
  return rows[0] ? toFeature(rows[0]) : undefined;
}

export async function featureExists(db: Db, accountId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM features WHERE account_id = $1 AND id = $2', [accountId, id]);
  return (rowCount ?? 0) > 0;
}

export async function rulesUsingFeature(db: Db, accountId: string, featureId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM rules WHERE account_id = $1 AND feature_id = $2 ORDER BY created_at LIMIT 5', [accountId, featureId]);
  return rows.map((row) => row.id);
}

export async function deleteFeature(tx: PoolClient, accountId: string, id: string): Promise<boolean> {
  const { rowCount } = await tx.query('DELETE FROM features WHERE account_id = $1 AND id = $2', [accountId, id]);
  return (rowCount ?? 0) > 0;
}

export async function listFeatures(db: Db, accountId: string, limit: number, afterId?: string): Promise<Feature[]> {
  const { rows } = await db.query(
    `SELECT id, name, created_at FROM features WHERE account_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [accountId, afterId ?? null, limit],
  );
  return rows.map(toFeature);
}

export interface RuleValues {
  featureId: string;
  eventName: string;
  conditions: Condition[];
  enabled: boolean;
}

export async function insertRule(tx: PoolClient, accountId: string, id: string, values: RuleValues, version: number): Promise<Rule> {
  const { rows } = await tx.query<RuleRow>(
    `INSERT INTO rules (id, account_id, feature_id, event_name, conditions, enabled, version)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RULE_COLUMNS}`,
    [id, accountId, values.featureId, values.eventName, JSON.stringify(values.conditions), values.enabled, version],
  );
  return toRule(rows[0]!);
}

export async function getRule(db: Db, accountId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<Rule | undefined> {
  const { rows } = await db.query<RuleRow>(
    `SELECT ${RULE_COLUMNS} FROM rules WHERE account_id = $1 AND id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [accountId, id],
  );
  return rows[0] ? toRule(rows[0]) : undefined;
}

export async function updateRule(tx: PoolClient, accountId: string, id: string, values: RuleValues, version: number): Promise<Rule> {
  const { rows } = await tx.query<RuleRow>(
    `UPDATE rules SET feature_id = $3, event_name = $4, conditions = $5, enabled = $6, version = $7, updated_at = now()
     WHERE account_id = $1 AND id = $2 RETURNING ${RULE_COLUMNS}`,
    [accountId, id, values.featureId, values.eventName, JSON.stringify(values.conditions), values.enabled, version],
  );
  return toRule(rows[0]!);
}

export async function deleteRule(tx: PoolClient, accountId: string, id: string): Promise<Rule | undefined> {
  const { rows } = await tx.query<RuleRow>(`DELETE FROM rules WHERE account_id = $1 AND id = $2 RETURNING ${RULE_COLUMNS}`, [accountId, id]);
  return rows[0] ? toRule(rows[0]) : undefined;
}

export async function listRules(db: Db, accountId: string, limit: number, after?: { createdAt: string; id: string }): Promise<Rule[]> {
  const { rows } = await db.query<RuleRow>(
    `SELECT ${RULE_COLUMNS} FROM rules WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::text))
     ORDER BY created_at, id LIMIT $4`,
    [accountId, after?.createdAt ?? null, after?.id ?? null, limit],
  );
  return rows.map(toRule);
}

/**
 * The account's snapshot as of one instant: version, features and enabled
 * rules read in one REPEATABLE READ transaction, so the version always
 * describes exactly these lists. Unknown account: version 0, empty lists.
 */
export async function loadSnapshot(pool: Pool, accountId: string): Promise<RulesSnapshot> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const version = await client.query<{ version: string }>('SELECT version FROM account_versions WHERE account_id = $1', [accountId]);
    const snapshot = await snapshotIn(client, accountId, Number(version.rows[0]?.version ?? 0));
    await client.query('COMMIT');
    return snapshot;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The snapshot of `version` as `db` sees the account's features and enabled rules (a change's own transaction sees its change). */
export async function snapshotIn(db: Db, accountId: string, version: number): Promise<RulesSnapshot> {
  const features = await db.query<{ id: string; name: string }>('SELECT id, name FROM features WHERE account_id = $1 ORDER BY id', [accountId]);
  const rules = await db.query<{ id: string; feature_id: string; event_name: string; conditions: Condition[] }>(
    'SELECT id, feature_id, event_name, conditions FROM rules WHERE account_id = $1 AND enabled ORDER BY created_at, id',
    [accountId],
  );
  return {
    accountId,
    version,
    features: features.rows.map((row) => ({ id: row.id, name: row.name })),
    rules: rules.rows.map((row) => ({ id: row.id, featureId: row.feature_id, eventName: row.event_name, conditions: row.conditions })),
  };
}
