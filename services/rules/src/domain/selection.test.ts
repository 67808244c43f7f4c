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
