import { httpError } from './errors';

// Opaque pagination cursors: the keyset position of the last row of a page as
// base64url JSON. Clients must not build them; a malformed one is a 400 naming
// the `cursor` field. Every service encodes the same way, so cursors clients
// already hold keep decoding.

const MALFORMED = "invalid query field 'cursor': pass the nextCursor of a previous page unchanged";

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/**
 * The position in `cursor`, as `read` accepts it (`read` returns undefined for a
 * wrong shape); a cursor that is not base64url JSON or has the wrong shape is a 400.
 */
export function decodeCursor<T>(cursor: string, read: (value: unknown) => T | undefined): T {
  let position: T | undefined;
  try {
    position = read(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    // not JSON: the 400 below
  }
  if (position === undefined) throw httpError(400, MALFORMED);
  return position;
}

/** A keyset position of `arity` strings or numbers; no (or an empty) cursor is the first page. */
export function decodePositionCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  return decodeCursor(cursor, (value) =>
    Array.isArray(value) && value.length === arity && value.every((part) => typeof part === 'string' || typeof part === 'number')
      ? (value as (string | number)[])
      : undefined,
  );
}
