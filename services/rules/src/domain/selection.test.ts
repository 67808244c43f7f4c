import { decodeCursor, encodeCursor } from './cursor';
import { isEmpty, selectionOf, unionOf } from './selection';

describe('selectionOf', () => {
  it.each([
    [{ kind: 'feature_created', featureId: 'messages' } as const, { eventNames: [], featureIds: ['messages'] }],
    [{ kind: 'rule_created', eventName: 'Sent', enabled: true } as const, { eventNames: ['Sent'], featureIds: [] }],
    [{ kind: 'rule_updated', eventName: 'Sent', enabled: false } as const, { eventNames: [], featureIds: [] }],
    [{ kind: 'rule_deleted' } as const, { eventNames: [], featureIds: [] }],
    [{ kind: 'feature_deleted', featureId: 'x' } as const, { eventNames: [], featureIds: [] }],
  ])('%j selects %j', (change, expected) => {
    expect(selectionOf(change)).toEqual(expected);
  });

  it('unions superseded scopes without duplicates', () => {
    const union = unionOf({ eventNames: ['B', 'A'], featureIds: ['f'] }, { eventNames: ['A'], featureIds: [] });
    expect(union).toEqual({ eventNames: ['A', 'B'], featureIds: ['f'] });
    expect(isEmpty(union)).toBe(false);
    expect(isEmpty(unionOf())).toBe(true);
  });
});

describe('cursor', () => {
  it('round-trips a keyset position', () => {
    expect(decodeCursor(encodeCursor(['2026-11-28T10:00:00.000Z', 'm1']), 2)).toEqual(['2026-11-28T10:00:00.000Z', 'm1']);
    expect(decodeCursor(undefined, 2)).toBeUndefined();
  });
  it('refuses a forged cursor with a 400 naming the field', () => {
    expect(() => decodeCursor('not-a-cursor', 2)).toThrow("invalid query field 'cursor'");
    expect(() => decodeCursor(encodeCursor(['a']), 2)).toThrow("'cursor'");
  });
});
