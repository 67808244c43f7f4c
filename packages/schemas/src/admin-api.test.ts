import { pageQuery } from './admin-api';

describe('pageQuery', () => {
  it.each(['abc', '0', '-1', '2.5', 'Infinity'])('refuses limit=%s saying what a limit is', (limit) => {
    const result = pageQuery.safeParse({ limit });
    expect(result.success ? 'accepted' : result.error.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['limit', 'must be a whole number of at least 1 (more than 1000 is capped at 1000)'],
    ]);
  });

  it('defaults to 50, caps at 1000 and reads an empty cursor as none', () => {
    expect(pageQuery.parse({})).toEqual({ limit: 50, cursor: undefined });
    expect(pageQuery.parse({ limit: '5000', cursor: '' })).toEqual({ limit: 1000, cursor: undefined });
  });
});
