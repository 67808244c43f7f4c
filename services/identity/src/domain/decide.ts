import { readIdentityTraits, type IdentityFields, type Problem } from './traits';
import { isImport, type IdentifyInput, type UserRecord } from './user';

/** What decide() needs to know about the account's users; UserView implements it. */
export interface UserLookup {
  isProcessed(accountId: string, messageId: string): boolean;
  byUserId(accountId: string, userId: string): UserRecord | undefined;
  /** Every user of the account whose normalised email is `email`. */
  byEmail(accountId: string, email: string): UserRecord[];
  /** When a user with this userId was deleted (ms), if it was. */
  deletedAt(accountId: string, userId: string): number | undefined;
}

export type Decision =
  | { action: 'skip'; reason: 'duplicate' | 'deleted_later' }
  /** Design row 1 (+ row 6 when `mergeImport` is set). */
  | { action: 'update'; target: UserRecord; fields: IdentityFields; at: number; mergeImport?: UserRecord; problems: Problem[] }
  /** Design row 2: a Stripe import that is the only user with the email takes the userId. */
  | { action: 'claim'; target: UserRecord; fields: IdentityFields; at: number; problems: Problem[] }
  /** Design rows 3, 4 and 5 (row 5 adds a merge_conflict problem). */
  | { action: 'create'; fields: IdentityFields; at: number; problems: Problem[] };

/**
 * The identity reconciliation table of DESIGN.md, as a pure function of the
 * event and the account's users. Never merges two users that both have a
 * userId: an ambiguous email becomes a merge_conflict issue for the account.
 */
export function decide(lookup: UserLookup, input: IdentifyInput): Decision {
  const { accountId, userId } = input;
  if (lookup.isProcessed(accountId, input.messageId)) return { action: 'skip', reason: 'duplicate' };
  const at = Date.parse(input.timestamp);
  const fields = readIdentityTraits(input.traits);
  const problems = [...fields.problems];
  const email = fields.email?.normalized;

  const existing = lookup.byUserId(accountId, userId);
  if (existing) {
    // Row 6 applies only when this event's email is the one the user ends up
    // with (an older event's email does not overwrite a newer one).
    const emailWins = email !== undefined && (existing.emailAt === null || at >= existing.emailAt);
    if (!emailWins) return { action: 'update', target: existing, fields, at, problems };
    const others = lookup.byEmail(accountId, email).filter((user) => user.id !== existing.id);
    const imports = others.filter(isImport);
    const withUserId = others.filter((user) => !isImport(user));
    if (imports.length === 1 && withUserId.length === 0) {
      return { action: 'update', target: existing, fields, at, mergeImport: imports[0], problems };
    }
    if (imports.length > 0) problems.push(conflict(email, imports.length, withUserId.length));
    return { action: 'update', target: existing, fields, at, problems };
  }

  // A replayed or late event for a user the account deleted must not bring it back.
  const deletedAt = lookup.deletedAt(accountId, userId);
  if (deletedAt !== undefined && at <= deletedAt) return { action: 'skip', reason: 'deleted_later' };

  if (email === undefined) return { action: 'create', fields, at, problems };
  const sharing = lookup.byEmail(accountId, email);
  const imports = sharing.filter(isImport);
  const withUserId = sharing.length - imports.length;
  if (imports.length === 1 && withUserId === 0) return { action: 'claim', target: imports[0]!, fields, at, problems };
  if (imports.length > 0) problems.push(conflict(email, imports.length, withUserId));
  return { action: 'create', fields, at, problems };
}

function conflict(email: string, imports: number, withUserId: number): Problem {
  return {
    kind: 'merge_conflict',
    detail: `email ${email} matches ${imports} imported user(s) without userId and ${withUserId} other user(s); nothing merged, merge or delete by hand`,
  };
}
