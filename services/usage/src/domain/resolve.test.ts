import type { RulesSnapshot, TrackEvent } from '@kana/schemas';
import { resolveEvent } from './resolve';

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
