import { httpError } from '@kana/platform';

// Opaque pagination cursors: the keyset position (base64url JSON) of the last
// row of a page. Clients must not build them; a malformed one is a 400.

export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === arity && value.every((part) => typeof part === 'string' || typeof part === 'number')) return value;
  } catch {
    // fall through to the 400 below
  }
  throw httpError(400, "invalid query field 'cursor': pass the nextCursor of a previous page unchanged");
}
