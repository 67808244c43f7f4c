import fc from 'fast-check';
import { matchesCondition, namedFeatureId, type Condition, type RulesSnapshot, type TrackEvent } from '@kana/schemas';
import { resolveEvent, type FeatureHit } from './resolve';

const snapshot: RulesSnapshot = {
  accountId: 'acc',
  version: 3,
  features: [
    { id: 'messages', name: 'Messages' },
    { id: 'seats', name: 'Seats' },
    { id: 'storage', name: 'Storage' },
  ],
  rules: [
    { id: 'r1', featureId: 'messages', eventName: 'Message Sent', conditions: [] },
    { id: 'r2', featureId: 'messages', eventName: 'Message Sent', conditions: [{ property: 'channel', operator: 'eq', value: 'sms' }] },
    { id: 'r3', featureId: 'storage', eventName: 'Message Sent', conditions: [{ property: 'bytes', operator: 'gt', value: 0 }] },
    { id: 'r4', featureId: 'seats', eventName: 'Seat Added', conditions: [{ property: 'plan', operator: 'eq', value: 'pro' }, { property: 'trial', operator: 'not_exists' }] },
  ],
};

const anEvent = (event: string, properties: Record<string, unknown>): Pick<TrackEvent, 'event' | 'properties'> => ({ event, properties });

describe('resolveEvent', () => {
  it('maps a named feature the account has, without consulting rules', () => {
    expect(resolveEvent(anEvent('Whatever', { featureId: 'seats', delta: 2 }), snapshot)).toEqual({
      kind: 'mapped',
      delta: 2,
      features: [{ featureId: 'seats', ruleId: null }],
    });
  });

  it('leaves a named feature the account lacks unmapped as unknown_feature, even when a rule would match', () => {
    expect(resolveEvent(anEvent('Message Sent', { featureId: 'gone' }), snapshot)).toEqual({ kind: 'unmapped', reason: 'unknown_feature' });
  });

  it('treats a non-string featureId as unknown unless it is a number naming a feature', () => {
    expect(resolveEvent(anEvent('Message Sent', { featureId: { id: 'messages' } }), snapshot)).toEqual({ kind: 'unmapped', reason: 'unknown_feature' });
    expect(resolveEvent(anEvent('X', { featureId: 7 }), { ...snapshot, features: [{ id: '7', name: 'seven' }] })).toMatchObject({ kind: 'mapped' });
  });

  it('uses the rules when featureId is null or blank (a Segment mapping left empty)', () => {
    for (const featureId of [null, '', '  ']) {
      expect(resolveEvent(anEvent('Message Sent', { featureId }), snapshot)).toEqual({ kind: 'mapped', delta: 1, features: [{ featureId: 'messages', ruleId: 'r1' }] });
    }
    expect(resolveEvent(anEvent('Nothing Matches', { featureId: '' }), snapshot)).toEqual({ kind: 'unmapped', reason: 'no_rule' });
  });

  it('yields one hit per distinct feature, with the first matching rule', () => {
    expect(resolveEvent(anEvent('Message Sent', { channel: 'sms', bytes: '120' }), snapshot)).toEqual({
      kind: 'mapped',
      delta: 1,
      features: [
        { featureId: 'messages', ruleId: 'r1' },
        { featureId: 'storage', ruleId: 'r3' },
      ],
    });
  });

  it('requires every condition of a rule (AND)', () => {
    expect(resolveEvent(anEvent('Seat Added', { plan: 'pro' }), snapshot)).toMatchObject({ features: [{ featureId: 'seats', ruleId: 'r4' }] });
    expect(resolveEvent(anEvent('Seat Added', { plan: 'pro', trial: true }), snapshot)).toEqual({ kind: 'unmapped', reason: 'no_rule' });
  });

  it('is no_rule when no rule has the event name', () => {
    expect(resolveEvent(anEvent('message sent', {}), snapshot)).toEqual({ kind: 'unmapped', reason: 'no_rule' });
    expect(resolveEvent(anEvent('Message Sent', {}), { ...snapshot, rules: [] })).toEqual({ kind: 'unmapped', reason: 'no_rule' });
  });

  it.each([
    [undefined, 1],
    [null, 1],
    [5, 5],
    ['2.5', 2.5],
    [-3, -3],
    [0, 0],
  ])('reads delta %p as %p', (delta, expected) => {
    expect(resolveEvent(anEvent('Message Sent', { delta }), snapshot)).toMatchObject({ kind: 'mapped', delta: expected });
  });

  it.each([['abc'], [true], [{}], [[1]], [Infinity], ['']])('refuses delta %p instead of guessing', (delta) => {
    expect(resolveEvent(anEvent('Message Sent', { delta }), snapshot)).toEqual({ kind: 'invalid', reason: expect.stringContaining('properties.delta') });
  });

  it('refuses a bad delta even on an event that would be unmapped', () => {
    expect(resolveEvent(anEvent('Nothing', { delta: 'x' }), snapshot)).toMatchObject({ kind: 'invalid' });
  });
});

describe('resolveEvent on large snapshots', () => {
  // What resolveEvent must answer, written as the definition reads: scan every feature and every rule in order.
  const byScanning = (event: Pick<TrackEvent, 'event' | 'properties'>, snap: RulesSnapshot) => {
    const featureId = namedFeatureId(event.properties);
    if (featureId !== undefined) return snap.features.some((feature) => feature.id === featureId) ? [{ featureId, ruleId: null }] : 'unknown_feature';
    const hits: FeatureHit[] = [];
    for (const rule of snap.rules) {
      if (rule.eventName !== event.event || hits.some((hit) => hit.featureId === rule.featureId)) continue;
      if (rule.conditions.every((condition) => matchesCondition(event.properties, condition))) hits.push({ featureId: rule.featureId, ruleId: rule.id });
    }
    return hits.length > 0 ? hits : 'no_rule';
  };
  const answer = (event: Pick<TrackEvent, 'event' | 'properties'>, snap: RulesSnapshot) => {
    const resolution = resolveEvent(event, snap);
    return resolution.kind === 'mapped' ? resolution.features : resolution.kind === 'unmapped' ? resolution.reason : resolution.reason;
  };

  // Few names, so that rules share event names and features, and events hit them; names a plain object would misread.
  const name = fc.constantFrom('Sent', 'Seat Added', '__proto__', 'constructor', 'toString', '');
  const featureId = fc.constantFrom('messages', 'seats', 'storage', '7', 'hasOwnProperty');
  const conditionArb: fc.Arbitrary<Condition> = fc.oneof(
    fc.record({ property: fc.constantFrom('plan', 'n'), operator: fc.constantFrom('eq' as const, 'neq' as const), value: fc.constantFrom('pro', 'free', 3) }),
    fc.record({ property: fc.constantFrom('plan', 'n'), operator: fc.constantFrom('exists' as const, 'not_exists' as const) }),
    fc.record({ property: fc.constant('n'), operator: fc.constantFrom('gt' as const, 'lte' as const), value: fc.integer({ min: 0, max: 5 }) }),
  );
  const snapshotArb: fc.Arbitrary<RulesSnapshot> = fc.record({
    accountId: fc.constant('acc'),
    version: fc.nat(),
    features: fc.uniqueArray(featureId, { maxLength: 5 }).map((ids) => ids.map((id) => ({ id, name: id }))),
    rules: fc.array(fc.record({ id: fc.uuid(), featureId, eventName: name, conditions: fc.array(conditionArb, { maxLength: 3 }) }), { maxLength: 12 }),
  });
  const eventArb = fc.record({
    event: name,
    properties: fc.record({ plan: fc.constantFrom('pro', 'free'), n: fc.integer({ min: 0, max: 5 }), featureId: featureId }, { requiredKeys: [] }),
  });

  it('answers what scanning every feature and rule in order answers', () => {
    fc.assert(
      fc.property(snapshotArb, fc.array(eventArb, { minLength: 1, maxLength: 5 }), (snap, events) => {
        // Several events against one snapshot object: the arrangement built for the first serves the others.
        for (const event of events) expect(answer(event, snap)).toEqual(byScanning(event, snap));
      }),
      { numRuns: 500 },
    );
  });

  it('follows a new snapshot of the account, never the arrangement of an older one', () => {
    const before: RulesSnapshot = { accountId: 'acc', version: 1, features: [{ id: 'seats', name: 'Seats' }], rules: [{ id: 'r1', featureId: 'seats', eventName: 'Seat Added', conditions: [] }] };
    expect(resolveEvent(anEvent('Seat Added', {}), before)).toMatchObject({ kind: 'mapped' });
    const after: RulesSnapshot = { ...before, version: 2, features: [], rules: [] };
    expect(resolveEvent(anEvent('Seat Added', {}), after)).toEqual({ kind: 'unmapped', reason: 'no_rule' });
    expect(resolveEvent(anEvent('Any', { featureId: 'seats' }), after)).toEqual({ kind: 'unmapped', reason: 'unknown_feature' });
    expect(resolveEvent(anEvent('Seat Added', {}), before)).toMatchObject({ kind: 'mapped' });
  });

  it('finds the one matching rule among 10,000 of other events, and a feature among 10,000', () => {
    const many: RulesSnapshot = {
      accountId: 'acc',
      version: 9,
      features: Array.from({ length: 10_000 }, (_, i) => ({ id: `f${i}`, name: `F ${i}` })),
      rules: Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, featureId: `f${i}`, eventName: `Event ${i}`, conditions: [] })),
    };
    expect(resolveEvent(anEvent('Event 9999', {}), many)).toEqual({ kind: 'mapped', delta: 1, features: [{ featureId: 'f9999', ruleId: 'r9999' }] });
    expect(resolveEvent(anEvent('Other', { featureId: 'f5000' }), many)).toEqual({ kind: 'mapped', delta: 1, features: [{ featureId: 'f5000', ruleId: null }] });
    expect(resolveEvent(anEvent('Event 10000', {}), many)).toEqual({ kind: 'unmapped', reason: 'no_rule' });
  });
});

