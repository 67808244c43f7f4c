import { forwardablePath } from './admin-proxy';

describe('forwardablePath', () => {
  it.each([
    ['/v1/rules', '/v1/rules', '/v1/rules'],
    ['/v1/rules/r1?x=1&y=%2F', '/v1/rules', '/v1/rules/r1?x=1&y=%2F'],
    ['/v1/users/attention', '/v1/users', '/v1/users/attention'],
    ['/v1/users/a%20b', '/v1/users', '/v1/users/a%20b'],
  ])('forwards %s unchanged', (url, prefix, expected) => {
    expect(forwardablePath(url, prefix)).toBe(expected);
  });

  it.each([
    ['/v1/rules/../../internal/accounts/B/rules-snapshot'],
    ['/v1/rules/%2e%2e/%2e%2e/internal/accounts/B/rules-snapshot'],
    ['/v1/rules/%2E%2E/metrics'],
    ['/v1/rules/./x'],
    ['/v1/rules/..%5c..%5cinternal'],
    ['/v1/rules/%zz'],
    ['/v1/rules/x/..'],
  ])('refuses %s, which could leave the authorised prefix', (url) => {
    expect(forwardablePath(url, '/v1/rules')).toBeUndefined();
  });
});
