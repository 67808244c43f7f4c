import { readIdentityTraits, type IdentityFields, type IssueKind, type Problem } from './traits';
import { isImport, type IdentifyInput, type UserRecord } from './user';

/** What decide() needs to know about the account's users; UserView implements it. */
export interface UserLookup {
  byUserId(accountId: string, userId: string): UserRecord | undefined;
  /**
   * Every user of the account whose normalised email is `email` when an import without userId has that email;
   * for any other email only some of them (those the batch loaded by userId), which decide() never needs more of.
   */
  byEmail(accountId: string, email: string): UserRecord[];
  /** When a user with this userId was deleted (ms), if it was. */
  deletedAt(accountId: string, userId: string): number | undefined;
  /** The user this userId was merged into by the account, and when (ms), if it was. */
  aliasOf(accountId: string, userId: string): { survivor: UserRecord; at: number } | undefined;
}

export type Decision =
  | { action: 'skip'; reason: 'deleted_later' | 'merged_later' }
  /** Design row 1 (+ row 6 when `mergeImport` is set); `target` may be the survivor of a merged-away userId. */
  | { action: 'update'; target: UserRecord; fields: IdentityFields; at: number; mergeImport?: UserRecord; problems: Problem[] }
  /** Design row 2: a Stripe import that is the only user with the email takes the userId. */
  | { action: 'claim'; target: UserRecord; fields: IdentityFields; at: number; problems: Problem[] }
  /** Design rows 3, 4 and 5 (row 5 adds a merge_conflict problem). */
  | { action: 'create'; fields: IdentityFields; at: number; problems: Problem[] };

/**
 * The identity reconciliation table of DESIGN.md, as a pure function of the
 * event and the account's users. Never merges two users that both have a
 * userId: an ambiguous email becomes a merge_conflict issue for the account.
 *
 * Duplicates: a redelivered event (same messageId, so same timestamp) finds
 * every field it carries written at its own timestamp or later, and last
 * writer wins is strict on ties, so it writes nothing, merges nothing and
 * records no problem again. Two different events of one user with the same
 * millisecond: the first in partition order wins, deterministically.
 */
export function decide(lookup: UserLookup, input: IdentifyInput, fields: IdentityFields = readIdentityTraits(input.traits)): Decision {
  const { accountId, userId } = input;
  const at = Date.parse(input.timestamp);
  const email = fields.email?.normalized;

  let existing = lookup.byUserId(accountId, userId);
  if (!existing) {
    // A userId merged away by the account counts toward the survivor.
    const alias = lookup.aliasOf(accountId, userId);
    if (alias && at <= alias.at) {
      // An event from before the merge, delivered late (Segment retries for hours): the merge kept
      // the survivor's fields and filled the missing ones from the merged-away user, so this event
      // may only fill what the survivor still lacks. Redelivered, it finds nothing left to fill.
      const missing = onlyMissing(alias.survivor, fields);
      return missing ? { action: 'update', target: alias.survivor, fields: missing, at, problems: [] } : { action: 'skip', reason: 'merged_later' };
    }
    existing = alias?.survivor;
  }
  if (existing) {
    // A field problem is news only when the event is newer than what the field holds.
    const problems = fields.problems.filter((problem) => isNewer(at, fieldAt(existing!, problem.kind)));
    // Row 6 applies only when this event's email is the one the user ends up
    // with (an older event's email does not overwrite a newer one).
    if (email === undefined || !isNewer(at, existing.emailAt)) return { action: 'update', target: existing, fields, at, problems };
    const others = lookup.byEmail(accountId, email).filter((user) => user.id !== existing!.id);
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

  const problems = [...fields.problems];
  if (email === undefined) return { action: 'create', fields, at, problems };
  const sharing = lookup.byEmail(accountId, email);
  const imports = sharing.filter(isImport);
  const withUserId = sharing.length - imports.length;
  if (imports.length === 1 && withUserId === 0) return { action: 'claim', target: imports[0]!, fields, at, problems };
  if (imports.length > 0) problems.push(conflict(email, imports.length, withUserId));
  return { action: 'create', fields, at, problems };
}

/** The valid fields of `fields` that `user` has no value for, or undefined when there are none. */
function onlyMissing(user: UserRecord, fields: IdentityFields): IdentityFields | undefined {
  const missing: IdentityFields = { problems: [] };
  if (fields.name !== undefined && user.name === null) missing.name = fields.name;
  if (fields.email !== undefined && user.email === null) missing.email = fields.email;
  if (fields.billing !== undefined && user.billingId === null) missing.billing = fields.billing;
  return missing.name ?? missing.email ?? missing.billing ? missing : undefined;
}

/** Last writer wins, strict on ties: an event writes a field only if it is newer than the one that wrote it. */
export function isNewer(at: number, writtenAt: number | null): boolean {
  return writtenAt === null || at > writtenAt;
}

function fieldAt(user: UserRecord, kind: IssueKind): number | null {
  if (kind === 'invalid_name') return user.nameAt;
  if (kind === 'invalid_email') return user.emailAt;
  if (kind === 'invalid_billing_id') return user.billingAt;
  return null;
}

function conflict(email: string, imports: number, withUserId: number): Problem {
  return {
    kind: 'merge_conflict',
    email,
    detail: `email ${email} matches ${imports} imported user(s) without userId and ${withUserId} other user(s); nothing merged, merge or delete by hand`,
  };
}
