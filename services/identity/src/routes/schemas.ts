import { decodeCursor, encodeCursor } from '@kana/platform';
import type { AttentionPosition } from '../adapters/pg-admin-store';

// Request shapes of the users admin API: adminApi in @kana/schemas (what /openapi.json is generated from).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUserId(id: string): boolean {
  return UUID.test(id);
}

/**
 * The 404 text for an id no user has. One that is not a Kana id at all is most likely the userId the
 * customer's app sends (`/v1/users/user-42`): the message says which lookup finds that.
 */
export function noUserMessage(id: string, field?: 'intoId'): string {
  const named = field ? ` (${field})` : '';
  if (isUserId(id)) return `no user ${id}${named}`;
  const shown = id.length > 80 ? `${id.slice(0, 80)}…` : id;
  return `no user ${shown}${named}: ${field ?? 'the path'} takes Kana's user id (a UUID, the 'id' of a User); to find a user by the userId your app sends, use GET /v1/users?userId=${encodeURIComponent(shown)}`;
}

/** Opaque cursor (see decodeCursor in platform): the last id of the page, so pages stay stable while users are added. */
export function encodeUserCursor(lastId: string): string {
  return encodeCursor({ after: lastId });
}

/** The id a cursor continues after; a malformed cursor is a 400 naming the field. */
export function decodeUserCursor(cursor: string): string {
  return decodeCursor(cursor, (value) => {
    const after = (value as { after?: unknown } | null)?.after;
    return typeof after === 'string' && isUserId(after) ? after : undefined;
  });
}

// timestamptz::text as Postgres writes it (DateStyle ISO): the exact instant a keyset continues after.
const PG_TIMESTAMPTZ = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2})(:\d{2})?$/;
const isPgTimestamptz = (text: string): boolean => {
  const parts = PG_TIMESTAMPTZ.exec(text);
  return parts !== null && !Number.isNaN(Date.parse(`${parts[1]}T${parts[2]}${parts[3]}${parts[4] ?? ':00'}`));
};

/** Where the attention lists continue (see AttentionPosition); a malformed cursor is a 400 naming the field. */
export function decodeAttentionCursor(cursor: string): AttentionPosition {
  return decodeCursor(cursor, (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const { missing, shared, issues } = value as Record<string, unknown>;
    const pair = (part: unknown, id: (text: string) => boolean) =>
      part === undefined || part === false || (Array.isArray(part) && part.length === 2 && typeof part[0] === 'string' && isPgTimestamptz(part[0]) && typeof part[1] === 'string' && id(part[1]));
    const ok = pair(missing, isUserId) && pair(issues, (id) => /^\d{1,19}$/.test(id)) && (shared === undefined || shared === false || typeof shared === 'string');
    return ok ? (value as AttentionPosition) : undefined;
  });
}
