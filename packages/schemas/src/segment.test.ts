import { namedFeatureId, parseDelta } from './segment';

describe('namedFeatureId', () => {
  it.each([
    [{}, undefined],
    [{ featureId: null }, undefined],
    [{ featureId: '' }, undefined],
    [{ featureId: ' \t' }, undefined],
    [{ featureId: 'messages' }, 'messages'],
    [{ featureId: 7 }, '7'],
    [{ featureId: true }, 'true'],
    [{ featureId: { id: 'messages' } }, '{"id":"messages"}'],
  ])('reads %p as %p', (properties, expected) => {
    expect(namedFeatureId(properties)).toBe(expected);
  });
});

describe('parseDelta', () => {
  it.each([
    [undefined, 1],
    [null, 1],
    [3, 3],
    [-2, -2],
    [0.5, 0.5],
    ['7', 7],
    [' 2.5 ', 2.5],
    ['1e3', 1000],
    ['-4', -4],
  ])('reads %p as %p', (input, expected) => {
    expect(parseDelta(input)).toBe(expected);
  });

  it.each([[NaN], [Infinity], [-Infinity], [''], ['  '], ['abc'], ['1,5'], ['0x10'], [true], [{}], [[1]], ['1e999']])(
    'refuses %p',
    (input) => {
      expect(parseDelta(input)).toBeUndefined();
    },
  );
});
