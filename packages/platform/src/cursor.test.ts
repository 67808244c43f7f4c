import { AppError } from './errors';
import { decodeCursor, decodePositionCursor, encodeCursor } from './cursor';

const afterId = (value: unknown): string | undefined => {
  const after = (value as { after?: unknown } | null)?.after;
  return typeof after === 'string' ? after : undefined;
};

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    return error as AppError;
  }
  throw new Error('expected a refusal');
}

describe('cursor', () => {
  it('round-trips a keyset position', () => {
    expect(decodePositionCursor(encodeCursor(['2026-11-28T10:00:00.000123Z', 'm1']), 2)).toEqual(['2026-11-28T10:00:00.000123Z', 'm1']);
    expect(decodePositionCursor(encodeCursor([42]), 1)).toEqual([42]);
    expect(decodeCursor(encodeCursor({ after: 'u1' }), afterId)).toBe('u1');
  });

  it('no cursor is the first page', () => {
    expect(decodePositionCursor(undefined, 2)).toBeUndefined();
    expect(decodePositionCursor('', 2)).toBeUndefined();
  });

  it('keeps the encoding clients already hold: base64url of the JSON', () => {
    expect(encodeCursor({ u: 'a', f: 'b' })).toBe('eyJ1IjoiYSIsImYiOiJiIn0');
    expect(encodeCursor(['x?>'])).toBe(Buffer.from('["x?>"]').toString('base64url'));
    expect(decodeCursor('eyJhZnRlciI6InUxIn0', afterId)).toBe('u1');
  });

  it.each([
    ['malformed base64', () => decodePositionCursor('not-a-cursor', 2)],
    ['base64 of something not JSON', () => decodeCursor(Buffer.from('{oops').toString('base64url'), afterId)],
    ['wrong shape', () => decodeCursor(encodeCursor({ before: 'u1' }), afterId)],
    ['JSON null', () => decodeCursor(encodeCursor(null), afterId)],
    ['wrong arity', () => decodePositionCursor(encodeCursor(['a']), 2)],
    ['wrong element type', () => decodePositionCursor(encodeCursor(['a', { b: 1 }]), 2)],
    ['an object where a position is expected', () => decodePositionCursor(encodeCursor({ 0: 'a', 1: 'b', length: 2 }), 2)],
  ])('refuses %s with a 400 naming the cursor field', (_case, run) => {
    const error = refusal(run);
    expect(error).toBeInstanceOf(AppError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("'cursor'");
  });
});
