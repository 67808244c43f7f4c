import type { Condition } from './rules';
import { asNumber, matchesCondition, readPath } from './match';

const properties = {
  plan: 'pro',
  seats: 10,
  seatsText: '12',
  price: '9.5',
  active: true,
  nothing: null,
  tags: ['beta', 'eu', 3],
  account: { tier: { name: 'gold' }, regions: ['eu', 'us'] },
  'dotted.key': 'literal',
  text: 'hello world',
};

const cases: [string, Condition, boolean][] = [
  // eq
  ['eq string', { property: 'plan', operator: 'eq', value: 'pro' }, true],
  ['eq string differs', { property: 'plan', operator: 'eq', value: 'free' }, false],
  ['eq is case sensitive', { property: 'plan', operator: 'eq', value: 'PRO' }, false],
  ['eq number', { property: 'seats', operator: 'eq', value: 10 }, true],
  ['eq numeric string to number', { property: 'seatsText', operator: 'eq', value: 12 }, true],
  ['eq number to numeric string', { property: 'seats', operator: 'eq', value: '10.0' }, true],
  ['eq boolean', { property: 'active', operator: 'eq', value: true }, true],
  ['eq null', { property: 'nothing', operator: 'eq', value: null }, true],
  ['eq type mismatch string vs boolean', { property: 'active', operator: 'eq', value: 'true' }, false],
  ['eq missing property', { property: 'absent', operator: 'eq', value: 'x' }, false],
  ['eq on an object never matches', { property: 'account', operator: 'eq', value: 'gold' }, false],
  ['eq with a list value never matches', { property: 'plan', operator: 'eq', value: ['pro'] }, false],
  // neq
  ['neq different string', { property: 'plan', operator: 'neq', value: 'free' }, true],
  ['neq same string', { property: 'plan', operator: 'neq', value: 'pro' }, false],
  ['neq numeric equal', { property: 'seatsText', operator: 'neq', value: 12 }, false],
  ['neq missing property', { property: 'absent', operator: 'neq', value: 'free' }, false],
  ['neq type mismatch', { property: 'seats', operator: 'neq', value: 'free' }, false],
  ['neq null on a present value', { property: 'plan', operator: 'neq', value: null }, true],
  // exists / not_exists
  ['exists present', { property: 'plan', operator: 'exists' }, true],
  ['exists false boolean still exists', { property: 'active', operator: 'exists' }, true],
  ['exists null', { property: 'nothing', operator: 'exists' }, false],
  ['exists missing', { property: 'absent', operator: 'exists' }, false],
  ['not_exists missing', { property: 'absent', operator: 'not_exists' }, true],
  ['not_exists null', { property: 'nothing', operator: 'not_exists' }, true],
  ['not_exists present', { property: 'plan', operator: 'not_exists' }, false],
  ['not_exists deep missing', { property: 'account.tier.colour', operator: 'not_exists' }, true],
  // contains
  ['contains substring', { property: 'text', operator: 'contains', value: 'lo wo' }, true],
  ['contains substring absent', { property: 'text', operator: 'contains', value: 'bye' }, false],
  ['contains array element', { property: 'tags', operator: 'contains', value: 'eu' }, true],
  ['contains array numeric element', { property: 'tags', operator: 'contains', value: '3' }, true],
  ['contains array element absent', { property: 'tags', operator: 'contains', value: 'us' }, false],
  ['contains number in string', { property: 'text', operator: 'contains', value: 1 }, false],
  ['contains on a number', { property: 'seats', operator: 'contains', value: '1' }, false],
  ['contains missing', { property: 'absent', operator: 'contains', value: 'a' }, false],
  // in
  ['in list', { property: 'plan', operator: 'in', value: ['free', 'pro'] }, true],
  ['in list absent', { property: 'plan', operator: 'in', value: ['free', 'team'] }, false],
  ['in numeric', { property: 'seatsText', operator: 'in', value: [11, 12] }, true],
  ['in scalar value never matches', { property: 'plan', operator: 'in', value: 'pro' }, false],
  ['in missing', { property: 'absent', operator: 'in', value: ['a'] }, false],
  // gt / gte / lt / lte
  ['gt number', { property: 'seats', operator: 'gt', value: 9 }, true],
  ['gt equal', { property: 'seats', operator: 'gt', value: 10 }, false],
  ['gte equal', { property: 'seats', operator: 'gte', value: 10 }, true],
  ['lt number', { property: 'seats', operator: 'lt', value: 11 }, true],
  ['lt equal', { property: 'seats', operator: 'lt', value: 10 }, false],
  ['lte equal', { property: 'seats', operator: 'lte', value: 10 }, true],
  ['gt numeric strings compare numerically, not lexically', { property: 'seatsText', operator: 'gt', value: '9' }, true],
  ['lt decimal string', { property: 'price', operator: 'lt', value: 10 }, true],
  ['gt non-numeric string', { property: 'plan', operator: 'gt', value: 1 }, false],
  ['gt boolean', { property: 'active', operator: 'gt', value: 0 }, false],
  ['gt missing', { property: 'absent', operator: 'gt', value: 0 }, false],
  ['gt against a non-numeric value', { property: 'seats', operator: 'gt', value: 'a' }, false],
  ['gt against a list', { property: 'seats', operator: 'gt', value: [1] }, false],
  // dot paths
  ['dot path', { property: 'account.tier.name', operator: 'eq', value: 'gold' }, true],
  ['dot path into an array', { property: 'account.regions.1', operator: 'eq', value: 'us' }, true],
  ['dot path through a scalar', { property: 'plan.name', operator: 'exists' }, false],
  ['literal dotted key', { property: 'dotted.key', operator: 'eq', value: 'literal' }, true],
  ['prototype is never followed', { property: 'account.constructor', operator: 'exists' }, false],
  ['__proto__ is never followed', { property: '__proto__', operator: 'exists' }, false],
];

describe('matchesCondition', () => {
  it.each(cases)('%s', (_name, condition, expected) => {
    expect(matchesCondition(properties, condition)).toBe(expected);
  });
});

describe('readPath', () => {
  it('returns undefined for an index into a non-array', () => {
    expect(readPath({ a: { b: 1 } }, 'a.0')).toBeUndefined();
  });
});

describe('asNumber', () => {
  it.each([
    [1, 1],
    [' 2 ', 2],
    ['-1.5e2', -150],
    ['', undefined],
    ['1,5', undefined],
    [true, undefined],
    [Infinity, undefined],
    ['1e999', undefined],
  ])('reads %p as %p', (input, expected) => {
    expect(asNumber(input)).toBe(expected);
  });
});
