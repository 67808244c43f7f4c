import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';

export { Pool, type PoolClient };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid Postgres schema name ${JSON.stringify(schema)}`);
}

/**
 * A pool whose connections resolve unqualified names in the service's own
 * schema: each service owns one schema and never reads another's tables.
 */
export function createPool(options: { url: string; schema: string; max?: number }): Pool {
  assertSchemaName(options.schema);
  const pool = new Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    options: `-c search_path=${options.schema},public`,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client whose server went away (Postgres restarted) emits 'error' on
  // the pool; without a listener that is an uncaught exception that kills the
  // process. The pool drops that client, and the next query's failure is what
  // callers see and retry (the chaos run found services dying here).
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Applies `dir/*.sql` in file-name order, each once and in its own
 * transaction, under an advisory lock so instances starting together do not
 * race. A migration that was changed after it was applied fails the start:
 * the schema would no longer be what the files say.
 */
export async function migrate(pool: Pool, options: { schema: string; dir: string; logger?: Logger }): Promise<string[]> {
  assertSchemaName(options.schema);
  const files = (await readdir(options.dir)).filter((file) => file.endsWith('.sql')).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`kana-migrate:${options.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${options.schema}.schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${options.schema}.schema_migrations`);
    const done = new Map(rows.map((row) => [row.name, row.checksum]));
    for (const file of files) {
      const sql = await readFile(join(options.dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${options.schema}/${file} changed after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO ${options.schema}, public`);
        await client.query(sql);
        await client.query(`INSERT INTO ${options.schema}.schema_migrations (name, checksum) VALUES ($1, $2)`, [file, checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${options.schema}/${file} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(file);
      options.logger?.info({ schema: options.schema, migration: file }, 'migration applied');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`kana-migrate:${options.schema}`]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** Runs `work` in one transaction; rolls back on any error and rethrows it. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
