import { SCHEMA_VERSION, type IdentityChange } from '@kana/schemas';
import type { UserRecord } from './user';

/** A kana.identity.changes value; for `merged`, `user` is the survivor and `from` the user merged away. */
export function identityChangeOf(kind: IdentityChange['kind'], user: UserRecord, from: UserRecord | null, at: string): IdentityChange {
  return {
    schemaVersion: SCHEMA_VERSION,
    accountId: user.accountId,
    kind,
    at,
    user: { id: user.id, userId: user.userId },
    from: from && { id: from.id, userId: from.userId },
  };
}
