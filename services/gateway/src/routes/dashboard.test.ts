import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appUnderTest, bearer, closeApps, KEY } from '../testing/app-under-test';
import { closeUpstreams, upstream } from '../testing/upstream';
import { DASHBOARD_DIR } from './dashboard';

afterEach(async () => {
  await closeApps();
  await closeUpstreams();
});

const script = readFileSync(join(DASHBOARD_DIR, 'dashboard.js'), 'utf8');
/** The admin paths the page reads, as its VIEWS declare them. */
const pagePaths = [...script.matchAll(/path: '([^']+)'/g)].map(([, path]) => path!);
/** The admin paths the page posts to: api(path, body), with an id in a template literal read as {id}. */
const postedPaths = [...script.matchAll(/api\(['`]([^'`]+)['`], /g)].map(([, path]) => path!.replace(/\$\{[^}]+\}/g, '{id}'));
// The page's pure functions (the script exports them when loaded by Node).
const page = require(join(DASHBOARD_DIR, 'dashboard.js')) as {
  parseCsv: (text: string) => string[][];
  stripeCustomers: (text: string) => { id: string; email: string | null; name: string | null }[];
  conditionValue: (text: string) => unknown;
};

describe('the dashboard at /', () => {
  it('is an HTML page that may run only its own script and talk only to this origin', async () => {
    const response = await appUnderTest().request('GET', '/');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<script src="/dashboard.js" defer></script>');
    const policy = response.headers['content-security-policy'];
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it.each([
    ['/dashboard.js', 'text/javascript; charset=utf-8'],
    ['/dashboard.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const response = await appUnderTest().request('GET', path);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(type);
    expect(response.body.length).toBeGreaterThan(0);
  });

  it('reads the views DESIGN names: usage, users needing attention, unmapped events, features, rules, jobs', () => {
    expect(pagePaths).toEqual(['/v1/usage', '/v1/users/attention', '/v1/events/unmapped', '/v1/features', '/v1/rules', '/v1/reprocess-jobs']);
  });

  it('reads only documented GET routes, each forwarded with the key to the service that owns it', async () => {
    const identity = await upstream();
    const rules = await upstream();
    const usage = await upstream();
    const app = appUnderTest({ upstreams: { identity: identity.url, rules: rules.url, usage: usage.url } });
    const document = (await app.request('GET', '/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    for (const path of pagePaths) {
      expect({ path, documented: document.paths[path]?.get !== undefined }).toEqual({ path, documented: true });
      // As the page asks for a paged view; without the key, 401 before anything is forwarded.
      const url = `${path}?limit=${path === '/v1/users/attention' ? 1000 : 50}`;
      expect((await app.request('GET', url)).statusCode).toBe(401);
      expect((await app.request('GET', url, { headers: { authorization: bearer(KEY) } })).statusCode).toBe(200);
    }
    const forwarded = [...identity.seen, ...rules.seen, ...usage.seen].map((seen) => seen.url.split('?')[0]);
    expect(forwarded.sort()).toEqual([...pagePaths].sort());
    expect(identity.seen.map((seen) => seen.url)).toEqual(['/v1/users/attention?limit=1000']);
  });

  it('changes only what DESIGN lets an account change, through documented POST routes', async () => {
    expect(postedPaths.sort()).toEqual(['/v1/features', '/v1/rules', '/v1/rules/preview', '/v1/users/import', '/v1/users/{id}/merge']);
    const document = (await appUnderTest().request('GET', '/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    expect(postedPaths.filter((path) => document.paths[path]?.post === undefined)).toEqual([]);
  });

  it('writes values from the API as text, never as HTML', () => {
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(script).toContain('textContent');
  });
});

describe("the dashboard's Stripe import", () => {
  it('reads a Stripe customer export by its header, whatever the column order and extra columns', () => {
    const csv = '\uFEFFid,Description,Email,Name,Created (UTC)\r\ncus_Lp1bSKob4laHDD,VIP,ada@example.com,"Lovelace, Ada",2024-01-02\r\ncus_NffrFeUfNV2Hib,,,,2024-01-03\r\n\r\n';
    expect(page.stripeCustomers(csv)).toEqual([
      { id: 'cus_Lp1bSKob4laHDD', email: 'ada@example.com', name: 'Lovelace, Ada' },
      { id: 'cus_NffrFeUfNV2Hib', email: null, name: null },
    ]);
    expect(page.stripeCustomers('Email,id\ngrace@example.com,cus_1')).toEqual([{ id: 'cus_1', email: 'grace@example.com', name: null }]);
  });

  it('keeps quoted commas, quotes and line breaks inside a field', () => {
    expect(page.parseCsv('a,"b, ""c""","d\ne"\nf,,')).toEqual([
      ['a', 'b, "c"', 'd\ne'],
      ['f', '', ''],
    ]);
  });

  it('refuses an export without an id column, saying what it expected', () => {
    expect(() => page.stripeCustomers('Email,Name\na@b.c,A')).toThrow(/no "id" column/);
    expect(() => page.stripeCustomers('')).toThrow('the export is empty');
  });

  it('reads a condition value as JSON when it is JSON, else as text', () => {
    expect([page.conditionValue('3'), page.conditionValue('["pro","team"]'), page.conditionValue('pro'), page.conditionValue('  ')]).toEqual([3, ['pro', 'team'], 'pro', undefined]);
  });
});
