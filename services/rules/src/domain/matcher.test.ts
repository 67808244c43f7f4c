import type { Condition } from '@kana/schemas';
import { asNumber, conditionHolds, readPath, ruleMatches } from './matcher';

const props = {
  plan: 'pro',
  seats: 12,
  seatsText: '12',
  ratio: '1.5e1',
  nested: { tier: { name: 'gold' }, list: ['a', 'b', 3] },
  tags: ['alpha', 'beta', '7'],
  empty: null,
  flag: true,
  text: 'hello world',
};

describe('conditionHolds', () => {
  const cases: Array<[string, Condition, boolean]> = [
    ['eq string', { property: 'plan', operator: 'eq', value: 'pro' }, true],
    ['eq string differs', { property: 'plan', operator: 'eq', value: 'free' }, false],
    ['eq numeric string vs number', { property: 'seatsText', operator: 'eq', value: 12 }, true],
    ['eq number vs numeric string', { property: 'seats', operator: 'eq', value: '12.0' }, true],
    ['eq boolean', { property: 'flag', operator: 'eq', value: true }, true],
    ['eq boolean vs string', { property: 'flag', operator: 'eq', value: 'true' }, false],
    ['eq missing', { property: 'nope', operator: 'eq', value: 'x' }, false],
    ['eq object never', { property: 'nested', operator: 'eq', value: 'x' }, false],
    ['eq dot path', { property: 'nested.tier.name', operator: 'eq', value: 'gold' }, true],
    ['neq differs', { property: 'plan', operator: 'neq', value: 'free' }, true],
    ['neq same', { property: 'plan', operator: 'neq', value: 'pro' }, false],
    ['neq missing holds', { property: 'nope', operator: 'neq', value: 'pro' }, true],
    ['exists', { property: 'plan', operator: 'exists' }, true],
    ['exists null is absent', { property: 'empty', operator: 'exists' }, false],
    ['exists nested', { property: 'nested.tier', operator: 'exists' }, true],
    ['not_exists missing', { property: 'nested.none', operator: 'not_exists' }, true],
    ['not_exists null', { property: 'empty', operator: 'not_exists' }, true],
    ['not_exists present', { property: 'plan', operator: 'not_exists' }, false],
    ['contains substring', { property: 'text', operator: 'contains', value: 'lo wo' }, true],
    ['contains substring missing', { property: 'text', operator: 'contains', value: 'bye' }, false],
    ['contains array element', { property: 'tags', operator: 'contains', value: 'beta' }, true],
    ['contains array numeric element', { property: 'tags', operator: 'contains', value: 7 }, true],
    ['contains on number', { property: 'seats', operator: 'contains', value: '1' }, false],
    ['in list', { property: 'plan', operator: 'in', value: ['free', 'pro'] }, true],
    ['in list numeric', { property: 'seatsText', operator: 'in', value: [1, 12] }, true],
    ['in list missing', { property: 'plan', operator: 'in', value: ['free'] }, false],
    ['gt number', { property: 'seats', operator: 'gt', value: 11 }, true],
    ['gt equal', { property: 'seats', operator: 'gt', value: 12 }, false],
    ['gte equal', { property: 'seats', operator: 'gte', value: '12' }, true],
    ['lt numeric string', { property: 'seatsText', operator: 'lt', value: 13 }, true],
    ['lt numeric string compares numerically, not as text', { property: 'seatsText', operator: 'lt', value: 9 }, false],
    ['lte exponent string', { property: 'ratio', operator: 'lte', value: 15 }, true],
    ['gt non numeric', { property: 'plan', operator: 'gt', value: 1 }, false],
    ['gt missing', { property: 'nope', operator: 'gt', value: 1 }, false],
    ['path does not index arrays', { property: 'nested.list.0', operator: 'exists' }, false],
  ];
  it.each(cases)('%s', (_name, condition, expected) => {
    expect(conditionHolds(condition, props)).toBe(expected);
  });
});

describe('ruleMatches', () => {
  const event = { event: 'Message Sent', properties: props };
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
});

describe('helpers', () => {
  it('reads only own properties', () => {
    expect(readPath({}, 'constructor')).toBeUndefined();
    expect(readPath({ a: { b: 1 } }, 'a.b')).toBe(1);
  });
  it('parses numbers and numeric strings only', () => {
    expect(asNumber(' 42 ')).toBe(42);
    expect(asNumber('1e3')).toBe(1000);
    expect(asNumber('')).toBeUndefined();
    expect(asNumber('0x10')).toBeUndefined();
    expect(asNumber(Infinity)).toBeUndefined();
    expect(asNumber(true)).toBeUndefined();
  });
});
