import { REPLACEMENT_CHARACTER as R, isStorable, toStorable, unstorableMessage, unstorablePart } from './storable';

describe('isStorable', () => {
  it('refuses U+0000 and unpaired surrogates, and takes paired ones', () => {
    expect(['a\u0000b', '\u0000', 'a\ud83d', '\ude00x', '\ud83d\ud83d'].map(isStorable)).toEqual([false, false, false, false, false]);
    expect(['', 'plain', '😀', '\ud83d\ude00', 'é\uFFFD', 'a\\u0000b'].map(isStorable)).toEqual([true, true, true, true, true, true]);
  });

  it('words the refusal after what is wrong', () => {
    expect(unstorableMessage("field 'userId'", 'a\u0000')).toBe("field 'userId' contains the character U+0000 (NUL), which Kana cannot store: remove it");
    expect(unstorableMessage("field 'userId'", 'a\ud83d')).toBe("field 'userId' contains half of a UTF-16 surrogate pair (not valid Unicode), which Kana cannot store: remove it");
  });
});

describe('unstorablePart', () => {
  it('names the first string or key that cannot be stored, by its path', () => {
    expect(unstorablePart({ name: 'ok', conditions: [{ value: 'a' }, { value: ['x', 'b\u0000'] }] })).toEqual({ path: 'conditions.1.value.1', text: 'b\u0000' });
    expect(unstorablePart({ properties: { 'plan\ud800': 1 } })).toEqual({ path: 'properties.plan\ud800', text: 'plan\ud800' });
    expect(unstorablePart('a\u0000')).toEqual({ path: '', text: 'a\u0000' });
  });

  it('finds nothing in data that can be stored', () => {
    expect(unstorablePart({ text: 'a\\u0000b', emoji: '😀', n: 0, nothing: null, list: [true, 1.5, R] })).toBeUndefined();
    expect(unstorablePart(undefined)).toBeUndefined();
  });
});

describe('toStorable', () => {
  it('replaces U+0000 and unpaired surrogates with U+FFFD in strings and keys, keeping key order and pairs', () => {
    const replaced = toStorable({ first: 'a\u0000b\u0000', 'k\u0000': [1, 'x\ud83d'], last: { deep: '\ude00', pair: '\ud83d\ude00' } });
    expect(replaced).toEqual({ first: `a${R}b${R}`, [`k${R}`]: [1, `x${R}`], last: { deep: R, pair: '😀' } });
    expect(Object.keys(replaced)).toEqual(['first', `k${R}`, 'last']);
  });

  it('returns the same objects where nothing changed and never touches the input', () => {
    const untouched = { a: [1, 'b'], c: { d: 'e' } };
    expect(toStorable(untouched)).toBe(untouched);
    const input = { keep: { d: 'e' }, change: ['\u0000'] };
    const replaced = toStorable(input);
    expect(replaced.keep).toBe(input.keep);
    expect(input.change).toEqual(['\u0000']);
  });
});
