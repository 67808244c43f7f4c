import { appUnderTest, basic, bearer, closeApps, KEY } from '../testing/app-under-test';
import { closeUpstreams, upstream } from '../testing/upstream';

afterEach(async () => {
  await closeApps();
  await closeUpstreams();
});

describe('admin routing', () => {
  it.each([
    ['GET', '/v1/users?email=a%40b.c&limit=5', 'identity'],
    ['POST', '/v1/users/u_1/merge', 'identity'],
    ['POST', '/v1/features', 'rules'],
    ['PATCH', '/v1/rules/r_1', 'rules'],
    ['GET', '/v1/events/unmapped?eventName=Seat%20Added', 'rules'],
    ['GET', '/v1/reprocess-jobs/j_1', 'rules'],
    ['GET', '/v1/usage/records?userId=u', 'usage'],
  ] as const)('forwards %s %s to %s unchanged, with the account id instead of the credential', async (method, url, owner) => {
    const target = await upstream();
    const app = appUnderTest({ upstreams: { [owner]: target.url } });
    const body = method === 'GET' ? undefined : '{"id": "messages",  "name":"Messages"}';
    const response = await app.request(method, url, { body, headers: { authorization: bearer(KEY), 'x-kana-account-id': 'acc_someone_else' } });
    expect([response.statusCode, response.json()]).toEqual([200, { data: [] }]);
    expect(target.seen).toHaveLength(1);
    const [seen] = target.seen;
    expect([seen!.method, seen!.url, seen!.body]).toEqual([method, url, body ?? '']);
    expect(seen!.headers['x-kana-account-id']).toBe('acc_1');
    expect(seen!.headers.authorization).toBeUndefined();
  });

  it('passes the service’s status and error body through', async () => {
    const target = await upstream({ status: 404, body: '{"message":"no user u_9"}' });
    const app = appUnderTest({ upstreams: { identity: target.url } });
    const response = await app.request('GET', '/v1/users/u_9', { headers: { authorization: basic(KEY) } });
    expect([response.statusCode, response.json()]).toEqual([404, { message: 'no user u_9' }]);
  });

  it('answers 401 without forwarding when the key is unknown', async () => {
    const target = await upstream();
    const app = appUnderTest({ upstreams: { usage: target.url } });
    const response = await app.request('GET', '/v1/usage', { headers: { authorization: bearer('kana_live_nope') } });
    expect([response.statusCode, response.json()]).toEqual([401, { message: 'unknown or revoked API key' }]);
    expect(target.seen).toHaveLength(0);
  });

  it('answers 503 with Retry-After naming the service when it is down', async () => {
    const app = appUnderTest();
    const response = await app.request('GET', '/v1/rules', { headers: { authorization: bearer(KEY) } });
    expect([response.statusCode, response.json()]).toEqual([503, { message: 'the rules service is unavailable; retry later' }]);
    expect(response.headers['retry-after']).toBeDefined();
  });

  it('does not treat look-alike paths as admin routes', async () => {
    const app = appUnderTest();
    const response = await app.request('GET', '/v1/usersx', { headers: { authorization: bearer(KEY) } });
    expect(response.statusCode).toBe(404);
  });
});
