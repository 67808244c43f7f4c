import { z } from 'zod';
import './index';

const schema = z.object({
  id: z.string().min(1).max(3),
  n: z.number().int().min(2).max(9),
  list: z.array(z.string()).min(1).max(1),
  flag: z.boolean(),
  own: z.string({ error: 'is the name of the thing' }),
});
const messages = (value: unknown) => {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => [issue.path.join('.'), issue.message]);
};

describe('zod messages (set for every schema by importing @kana/schemas)', () => {
  it('says a missing field is required and what a wrong-typed one must be', () => {
    expect(messages({ id: 5, n: 'x', list: {}, flag: null })).toEqual([
      ['id', 'must be a string, not a number'],
      ['n', 'must be a number, not a string'],
      ['list', 'must be an array, not an object'],
      ['flag', 'must be true or false, not null'],
      ['own', 'is the name of the thing'],
    ]);
    expect(messages({})[0]).toEqual(['id', 'is required']);
  });

  it('says the bound that a value is outside of', () => {
    expect(messages({ id: '', n: 1, list: [], flag: true, own: 'x' })).toEqual([
      ['id', 'must not be empty'],
      ['n', 'must be at least 2'],
      ['list', 'must not be empty'],
    ]);
    expect(messages({ id: 'abcd', n: 10, list: ['a', 'b'], flag: true, own: 'x' })).toEqual([
      ['id', 'must be at most 3 characters'],
      ['n', 'must be at most 9'],
      ['list', 'must have at most 1 item'],
    ]);
  });
});
