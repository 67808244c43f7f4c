import { decodeCursor, encodeCursor } from '@kana/platform';

// Request shapes of the users admin API: adminApi in @kana/schemas (what /openapi.json is generated from).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUserId(id: string): boolean {
  return UUID.test(id);
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
