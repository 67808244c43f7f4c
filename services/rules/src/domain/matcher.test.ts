import type { Condition } from '@kana/schemas';
import { ruleMatches } from './matcher';
// Condition semantics are tested with packages/schemas/src/match.ts; this file tests what rules adds.

const properties = { plan: 'pro', seats: 10 };

describe('ruleMatches', () => {
  const event = { event: 'Message Sent', properties };
  it('needs the same event name', () => {
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [] }, event)).toBe(true);
    expect(ruleMatches({ eventName: 'message sent', conditions: [] }, event)).toBe(false);
  });
  it('ANDs the conditions', () => {
    const ok: Condition = { property: 'plan', operator: 'eq', value: 'pro' };
    const no: Condition = { property: 'seats', operator: 'lt', value: 5 };
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [ok] }, event)).toBe(true);
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [ok, no] }, event)).toBe(false);
  });
  it('never maps an event that names its feature itself', () => {
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [] }, { event: 'Message Sent', properties: { featureId: 'x' } })).toBe(false);
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [] }, { event: 'Message Sent', properties: { featureId: null } })).toBe(true);
    expect(ruleMatches({ eventName: 'Message Sent', conditions: [] }, { event: 'Message Sent', properties: { featureId: ' ' } })).toBe(true);
  });
});
