import { randomBytes } from 'node:crypto';
import { inTransaction, type Pool } from '@kana/platform';
import { generateApiKey, hashApiKey, keyHint } from '../domain/api-key';
import type { KeyStore } from '../ports';

export interface NewKey {
  accountId: string;
  apiKey: string;
}

/** Accounts and API keys in the gateway's own schema (search_path of the pool). */
export class PgAccounts implements KeyStore {
  constructor(private readonly pool: Pool) {}

  async accountForKeyHash(keyHash: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ account_id: string }>(
      'SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [keyHash],
    );
    return rows[0]?.account_id ?? null;
  }

  /** A new account and its first key; the key is returned once and only its hash is kept. */
  async createAccount(name: string, options: { demo?: boolean } = {}): Promise<NewKey> {
    const accountId = `acc_${randomBytes(10).toString('hex')}`;
    const apiKey = generateApiKey();
    await inTransaction(this.pool, async (client) => {
      await client.query('INSERT INTO accounts (id, name, demo) VALUES ($1, $2, $3)', [accountId, name, options.demo ?? false]);
      await client.query('INSERT INTO api_keys (key_hash, account_id, hint) VALUES ($1, $2, $3)', [hashApiKey(apiKey), accountId, keyHint(apiKey)]);
    });
    return { accountId, apiKey };
  }

  /** Null when the account does not exist. */
  async createKey(accountId: string): Promise<NewKey | null> {
    const apiKey = generateApiKey();
    const { rowCount } = await this.pool.query(
      'INSERT INTO api_keys (key_hash, account_id, hint) SELECT $1, id, $3 FROM accounts WHERE id = $2',
      [hashApiKey(apiKey), accountId, keyHint(apiKey)],
    );
    return rowCount === 1 ? { accountId, apiKey } : null;
  }

  /** Idempotent: revoking a revoked key is not an error. */
  async revokeKey(apiKey: string): Promise<{ accountId: string; status: 'revoked' | 'already revoked' } | null> {
    const { rows } = await this.pool.query<{ account_id: string; was_revoked: boolean }>(
      `WITH before AS (SELECT key_hash, revoked_at FROM api_keys WHERE key_hash = $1 FOR UPDATE)
       UPDATE api_keys k SET revoked_at = COALESCE(k.revoked_at, now())
         FROM before WHERE k.key_hash = before.key_hash
       RETURNING k.account_id, before.revoked_at IS NOT NULL AS was_revoked`,
      [hashApiKey(apiKey)],
    );
    const row = rows[0];
    if (!row) return null;
    return { accountId: row.account_id, status: row.was_revoked ? 'already revoked' : 'revoked' };
  }

  /**
   * The demo account (created when none exists) with a fresh key: an existing
   * key cannot be shown again, since only its hash is stored.
   */
  async demoAccount(): Promise<NewKey> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM accounts WHERE demo');
    if (rows[0]) return (await this.createKey(rows[0].id))!;
    try {
      return await this.createAccount('Demo', { demo: true });
    } catch (error) {
      // Another process created it meanwhile (unique index on demo): use theirs.
      if ((error as { code?: string }).code !== '23505') throw error;
      return this.demoAccount();
    }
  }
}
