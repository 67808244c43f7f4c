import type { BillingProvider } from '@kana/schemas';
import type { IssueKind } from './traits';

export type UserSource = 'identify' | 'import';

/**
 * A user as the reconciliation logic sees it. The `*At` fields are the event
 * timestamps (ms) that last wrote each field: last writer wins per field, so an
 * older identify can still fill a field no newer event carried, but never
 * overwrites one. Imported users have null `*At`, so any identify wins over them.
 */
export interface UserRecord {
  id: string;
  accountId: string;
  userId: string | null;
  email: string | null;
  emailNormalized: string | null;
  name: string | null;
  billingId: string | null;
  billingProvider: BillingProvider | null;
  source: UserSource;
  nameAt: number | null;
  emailAt: number | null;
  billingAt: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface IdentityIssue {
  accountId: string;
  /** The customer's userId the issue is about (null for an import). */
  userId: string | null;
  kind: IssueKind;
  detail: string;
  at: string;
  /** For merge_conflict: the ambiguous normalised email. */
  email?: string;
}

/** What the consumer reads of an identify message. */
export interface IdentifyInput {
  accountId: string;
  messageId: string;
  userId: string;
  /** ISO-8601 event timestamp; the last-writer-wins clock. */
  timestamp: string;
  traits: Record<string, unknown>;
}

export function isImport(user: UserRecord): boolean {
  return user.userId === null;
}
