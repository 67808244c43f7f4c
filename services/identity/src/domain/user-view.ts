import type { IdentityChange } from '@kana/schemas';
import { identityChangeOf } from './changes';
import { isNewer, type Decision, type UserLookup } from './decide';
import type { IdentityFields } from './traits';
import type { IdentifyInput, IdentityIssue, UserRecord } from './user';

/** A map keyed by (accountId, value), nested rather than by a joined string: no key string per lookup. */
class ByAccount<V> {
  private readonly accounts = new Map<string, Map<string, V>>();

  get(accountId: string, key: string): V | undefined {
    return this.accounts.get(accountId)?.get(key);
  }

  set(accountId: string, key: string, value: V): void {
    let values = this.accounts.get(accountId);
    if (!values) this.accounts.set(accountId, (values = new Map()));
    values.set(key, value);
  }

  delete(accountId: string, key: string): void {
    this.accounts.get(accountId)?.delete(key);
  }
}

/**
 * The users one batch can touch (by the batch's userIds and emails), indexed
 * in memory. Decisions are applied here one message at a time, in partition
 * order, so later messages of the batch see earlier ones; the store then
 * writes what changed in one transaction. `byEmail` is complete only for
 * emails that were loaded: those of the batch that an import without userId
 * has, the only ones whose users decide() acts on (for any other email it
 * finds no import, whatever else it finds).
 */
export class UserView implements UserLookup {
  private readonly users = new Map<string, UserRecord>();
  private readonly idByUserId = new ByAccount<string>();
  private readonly idsByEmail = new ByAccount<Set<string>>();
  private readonly tombstones = new ByAccount<number>();
  private readonly aliases = new ByAccount<{ survivorId: string; at: number }>();

  readonly inserted = new Set<string>();
  readonly updated = new Set<string>();
  readonly removed = new Map<string, UserRecord>();
  readonly issues: IdentityIssue[] = [];
  readonly changes: IdentityChange[] = [];
  /** Each user's (by id) latest change: its index in `changes` and its time (ms). */
  private readonly lastChange = new Map<string, { index: number; at: number }>();
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
    for (const { accountId, userId, at } of loaded.tombstones) this.tombstones.set(accountId, userId, at);
    for (const { accountId, userId, survivorId, at } of loaded.aliases ?? []) this.aliases.set(accountId, userId, { survivorId, at });
  }

  byUserId(accountId: string, userId: string): UserRecord | undefined {
    const id = this.idByUserId.get(accountId, userId);
    return id === undefined ? undefined : this.users.get(id);
  }
  byEmail(accountId: string, email: string): UserRecord[] {
    const users: UserRecord[] = [];
    for (const id of this.idsByEmail.get(accountId, email) ?? []) users.push(this.users.get(id)!);
    return users;
  }
  deletedAt(accountId: string, userId: string): number | undefined {
    return this.tombstones.get(accountId, userId);
  }
  aliasOf(accountId: string, userId: string): { survivor: UserRecord; at: number } | undefined {
    const alias = this.aliases.get(accountId, userId);
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
      this.emit('created', user, null, input.timestamp, decision.at);
      return;
    }

    // The target is the view's own record: changed in place, then re-indexed if its keys moved.
    const user = decision.target;
    const { userId, emailNormalized, nameAt, emailAt, billingAt } = user;
    if (decision.action === 'claim') user.userId = input.userId;
    const changed = writeFields(user, decision.fields, decision.at) || decision.action === 'claim';
    const mergeImport = decision.action === 'update' ? decision.mergeImport : undefined;
    if (mergeImport) {
      const from = this.unindex(mergeImport.id);
      fillMissing(user, from);
      this.remove(from);
    }
    if (changed || mergeImport) user.updatedAt = now;
    const timestampsMoved = user.nameAt !== nameAt || user.emailAt !== emailAt || user.billingAt !== billingAt;
    if (changed || mergeImport || timestampsMoved) this.markUpdated(user.id);
    this.reindex(user, userId, emailNormalized);
    // A merge tells consumers about the survivor already; one change per event is enough.
    if (mergeImport) this.emit('merged', user, mergeImport, input.timestamp, decision.at);
    else if (changed) this.emit('updated', user, null, input.timestamp, decision.at);
  }

  /**
   * One `updated` per user per batch: a change names the user, not its fields,
   * so several `updated` of one user in a row tell a consumer nothing one does
   * not (a later one only moves the pending one's `at` forward), and an
   * `updated` right after the user's `created` adds nothing to it. Any other
   * change in between (a merge, a claim changing the key) is kept, in order.
   */
  private emit(kind: IdentityChange['kind'], user: UserRecord, from: UserRecord | null, at: string, atMs: number): void {
    if (kind === 'updated') {
      const pending = this.lastChange.get(user.id);
      const last = pending && this.changes[pending.index]!;
      if (pending && last && (last.kind === 'updated' || last.kind === 'created') && last.user.userId === user.userId) {
        if (last.kind === 'updated' && atMs > pending.at) [last.at, pending.at] = [at, atMs];
        return;
      }
    }
    this.lastChange.set(user.id, { index: this.changes.length, at: atMs });
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
    this.reindex(user, null, null);
  }

  private reindex(user: UserRecord, oldUserId: string | null, oldEmail: string | null): void {
    if (user.userId !== oldUserId) {
      if (oldUserId !== null) this.idByUserId.delete(user.accountId, oldUserId);
      if (user.userId !== null) this.idByUserId.set(user.accountId, user.userId, user.id);
    }
    if (user.emailNormalized !== oldEmail) {
      if (oldEmail !== null) this.idsByEmail.get(user.accountId, oldEmail)?.delete(user.id);
      if (user.emailNormalized !== null) {
        const ids = this.idsByEmail.get(user.accountId, user.emailNormalized);
        if (ids) ids.add(user.id);
        else this.idsByEmail.set(user.accountId, user.emailNormalized, new Set([user.id]));
      }
    }
  }

  private unindex(id: string): UserRecord {
    const user = this.users.get(id)!;
    this.users.delete(id);
    if (user.userId !== null) this.idByUserId.delete(user.accountId, user.userId);
    if (user.emailNormalized !== null) this.idsByEmail.get(user.accountId, user.emailNormalized)?.delete(id);
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
