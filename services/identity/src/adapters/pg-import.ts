import { randomUUID } from 'node:crypto';
import type { PoolClient } from '@kana/platform';
import { normalizeEmail } from '@kana/schemas';
import type { UserRecord } from '../domain/user';
import { identityChangeOf } from '../domain/changes';
import { fromRow, USER_SELECT, type UserRow } from './pg-rows';
import { insertOutbox, insertUsers, updateUsers, type OutboxEntry } from './pg-user-writes';

export interface ImportedCustomer {
  /** A Stripe customer id, validated by the route. */
  id: string;
  email?: string | null;
  name?: string | null;
}

export interface ImportOutcome {
  imported: number;
  merged: number;
  skipped: number;
}

/**
 * Imports Stripe customers (in the caller's transaction). Per customer:
 * - a user of the account already has this billing id → skipped (re-running an export is harmless);
 * - exactly one user has the email, it has a userId and no billing id → merged: it gets the
 *   billing id (and the name when it has none);
 * - otherwise → a new user without userId, which a later identify with the email claims.
 * Field timestamps stay null, so any identify overrides imported values.
 */
export async function importCustomers(client: PoolClient, accountId: string, customers: ImportedCustomer[]): Promise<ImportOutcome & { outbox: OutboxEntry | undefined }> {
  const emails = [...new Set(customers.flatMap((c) => (c.email ? [normalizeEmail(c.email)!] : [])))];
  const { rows } = await client.query<UserRow>(
    `SELECT ${USER_SELECT} FROM users WHERE account_id = $1 AND (billing_id = ANY($2::text[]) OR email_normalized = ANY($3::text[]))
     ORDER BY id FOR UPDATE`,
    [accountId, customers.map((c) => c.id), emails],
  );
  const users = rows.map(fromRow);
  const billingIds = new Set(users.flatMap((u) => (u.billingId ? [u.billingId] : [])));
  const byEmail = new Map<string, UserRecord[]>();
  const addByEmail = (user: UserRecord) => user.emailNormalized && byEmail.set(user.emailNormalized, [...(byEmail.get(user.emailNormalized) ?? []), user]);
  users.forEach(addByEmail);

  const now = new Date().toISOString();
  const created: UserRecord[] = [];
  const updated = new Map<string, UserRecord>();
  const outcome: ImportOutcome = { imported: 0, merged: 0, skipped: 0 };
  for (const customer of customers) {
    if (billingIds.has(customer.id)) {
      outcome.skipped++;
      continue;
    }
    billingIds.add(customer.id);
    const email = customer.email ? normalizeEmail(customer.email)! : null;
    const sharing = email ? (byEmail.get(email) ?? []) : [];
    const only = sharing.length === 1 ? sharing[0]! : undefined;
    if (only && only.userId !== null && only.billingId === null) {
      only.billingId = customer.id;
      only.billingProvider = 'stripe';
      if (only.name === null && customer.name) only.name = customer.name.trim();
      only.updatedAt = now;
      updated.set(only.id, only);
      outcome.merged++;
      continue;
    }
    const user: UserRecord = {
      id: randomUUID(), accountId, userId: null, email: customer.email?.trim() || null, emailNormalized: email, name: customer.name?.trim() || null,
      billingId: customer.id, billingProvider: 'stripe', source: 'import', nameAt: null, emailAt: null, billingAt: null, createdAt: now, updatedAt: now,
    };
    created.push(user);
    addByEmail(user);
    outcome.imported++;
  }
  await updateUsers(client, [...updated.values()]);
  await insertUsers(client, created);
  const outbox = await insertOutbox(client, 'admin', [
    ...[...updated.values()].map((u) => identityChangeOf('updated', u, null, now)),
    ...created.map((u) => identityChangeOf('created', u, null, now)),
  ]);
  return { ...outcome, outbox };
}
