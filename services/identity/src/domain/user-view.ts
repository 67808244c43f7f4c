import type { IdentityChange } from '@kana/schemas';
import { identityChangeOf } from './changes';
import { isNewer, type Decision, type UserLookup } from './decide';
import type { IdentityFields } from './traits';
import type { IdentifyInput, IdentityIssue, UserRecord } from './user';

const k = (accountId: string, value: string) => `${accountId}\u0000${value}`;

/**
 * The users one batch can touch (by the batch's userIds and emails), indexed
 * in memory. Decisions are applied here one message at a time, in partition
 * order, so later messages of the batch see earlier ones; the store then
 * writes what changed in one transaction. `byEmail` is complete only for
 * emails that were loaded, which are exactly the emails decide() asks about.
 */
export class UserView implements UserLookup {
  private readonly users = new Map<string, UserRecord>();
  private readonly idByUserId = new Map<string, string>();
  private readonly idsByEmail = new Map<string, Set<string>>();
  private readonly tombstones = new Map<string, number>();
  private readonly aliases = new Map<string, { survivorId: string; at: number }>();

  readonly inserted = new Set<string>();
  readonly updated = new Set<string>();
  readonly removed = new Map<string, UserRecord>();
  readonly issues: IdentityIssue[] = [];
  readonly changes: IdentityChange[] = [];
  applied = 0;
  skipped = 0;

  constructor(
    loaded: {
      users: UserRecord[];
      tombstones: { accountId: string; userId: string; at: number }[];
      /** Merged-away userIds; each survivor must be among `users`. */
      aliases?: { accountId: string; userId: string; survivorId: string; at: number }[];
    },
    private readonly deps: { newId: () => string; now: () => string },
  ) {
    for (const user of loaded.users) this.index({ ...user });
    for (const { accountId, userId, at } of loaded.tombstones) this.tombstones.set(k(accountId, userId), at);
    for (const { accountId, userId, survivorId, at } of loaded.aliases ?? []) this.aliases.set(k(accountId, userId), { survivorId, at });
  }

  byUserId(accountId: string, userId: string): UserRecord | undefined {
    const id = this.idByUserId.get(k(accountId, userId));
    return id === undefined ? undefined : this.users.get(id);
  }
  byEmail(accountId: string, email: string): UserRecord[] {
    return [...(this.idsByEmail.get(k(accountId, email)) ?? [])].map((id) => this.users.get(id)!);
  }
  deletedAt(accountId: string, userId: string): number | undefined {
    return this.tombstones.get(k(accountId, userId));
  }
  aliasOf(accountId: string, userId: string): { survivor: UserRecord; at: number } | undefined {
    const alias = this.aliases.get(k(accountId, userId));
    const survivor = alias && this.users.get(alias.survivorId);
    return survivor && { survivor, at: alias.at };
  }
  get(id: string): UserRecord | undefined {
    return this.users.get(id);
  }

  apply(input: IdentifyInput, decision: Decision): void {
    if (decision.action === 'skip') {
      this.skipped++;
      return;
    }
    this.applied++;
    // Issues are about the user the event ends up on (the survivor for a merged-away userId).
    const issueUserId = decision.action === 'update' ? (decision.target.userId ?? input.userId) : input.userId;
    for (const problem of decision.problems) {
      this.issues.push({ accountId: input.accountId, userId: issueUserId, ...problem, at: input.timestamp });
    }
    const now = this.deps.now();

    if (decision.action === 'create') {
      const user: UserRecord = {
        id: this.deps.newId(), accountId: input.accountId, userId: input.userId, email: null, emailNormalized: null, name: null,
        billingId: null, billingProvider: null, source: 'identify', nameAt: null, emailAt: null, billingAt: null, createdAt: now, updatedAt: now,
      };
      writeFields(user, decision.fields, decision.at);
      this.index(user);
      this.inserted.add(user.id);
      this.emit('created', user, null, input.timestamp);
      return;
    }

    const before = { ...decision.target };
    const user = this.unindex(decision.target.id);
    if (decision.action === 'claim') user.userId = input.userId;
    const changed = writeFields(user, decision.fields, decision.at) || decision.action === 'claim';
    const mergeImport = decision.action === 'update' ? decision.mergeImport : undefined;
    if (mergeImport) {
      const from = this.unindex(mergeImport.id);
      fillMissing(user, from);
      this.remove(from);
    }
    if (changed || mergeImport) user.updatedAt = now;
    if (changed || mergeImport || timestampsMoved(before, user)) this.markUpdated(user.id);
    this.index(user);
    // A merge tells consumers about the survivor already; one change per event is enough.
    if (mergeImport) this.emit('merged', user, mergeImport, input.timestamp);
    else if (changed) this.emit('updated', user, null, input.timestamp);
  }

  private emit(kind: IdentityChange['kind'], user: UserRecord, from: UserRecord | null, at: string): void {
    this.changes.push(identityChangeOf(kind, user, from, at));
  }

  private markUpdated(id: string): void {
    if (!this.inserted.has(id)) this.updated.add(id);
  }

  private remove(user: UserRecord): void {
    this.updated.delete(user.id);
    if (this.inserted.delete(user.id)) return; // never reached the database
    this.removed.set(user.id, user);
  }

  private index(user: UserRecord): void {
    this.users.set(user.id, user);
    if (user.userId !== null) this.idByUserId.set(k(user.accountId, user.userId), user.id);
    if (user.emailNormalized !== null) {
      const key = k(user.accountId, user.emailNormalized);
      const ids = this.idsByEmail.get(key) ?? new Set();
      ids.add(user.id);
      this.idsByEmail.set(key, ids);
    }
  }

  private unindex(id: string): UserRecord {
    const user = this.users.get(id)!;
    this.users.delete(id);
    if (user.userId !== null) this.idByUserId.delete(k(user.accountId, user.userId));
    if (user.emailNormalized !== null) this.idsByEmail.get(k(user.accountId, user.emailNormalized))?.delete(id);
    return user;
  }
}

/** Last writer wins per field, strict on ties (see decide); returns whether a stored value changed. */
export function writeFields(user: UserRecord, fields: IdentityFields, at: number): boolean {
  let changed = false;
  if (fields.name !== undefined && isNewer(at, user.nameAt)) {
    changed ||= user.name !== fields.name;
    user.name = fields.name;
    user.nameAt = at;
  }
  if (fields.email !== undefined && isNewer(at, user.emailAt)) {
    changed ||= user.email !== fields.email.value;
    user.email = fields.email.value;
    user.emailNormalized = fields.email.normalized;
    user.emailAt = at;
  }
  if (fields.billing !== undefined && isNewer(at, user.billingAt)) {
    changed ||= user.billingId !== fields.billing.id;
    user.billingId = fields.billing.id;
    user.billingProvider = fields.billing.provider;
    user.billingAt = at;
  }
  return changed;
}

/** A merge: the survivor keeps what it has and takes from the other only what it lacks. */
export function fillMissing(survivor: UserRecord, from: UserRecord): void {
  if (survivor.userId === null) survivor.userId = from.userId;
  if (survivor.name === null) [survivor.name, survivor.nameAt] = [from.name, from.nameAt];
  if (survivor.email === null) [survivor.email, survivor.emailNormalized, survivor.emailAt] = [from.email, from.emailNormalized, from.emailAt];
  if (survivor.billingId === null) [survivor.billingId, survivor.billingProvider, survivor.billingAt] = [from.billingId, from.billingProvider, from.billingAt];
}

function timestampsMoved(a: UserRecord, b: UserRecord): boolean {
  return a.nameAt !== b.nameAt || a.emailAt !== b.emailAt || a.billingAt !== b.billingAt;
}
