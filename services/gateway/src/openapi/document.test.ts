import { appUnderTest, closeApps, KEY } from '../testing/app-under-test';
import { ADMIN_ROUTES } from '../routes/admin-proxy';
import { INGEST_ROUTES } from '../routes/ingest';
import { adminApi } from '@kana/schemas';
import { ADMIN_ROUTE_SPECS } from './document';

afterEach(closeApps);

// The routes of API.md, spelled as a reader of that page would: if the
// document misses one, a client generated from it cannot call it.
const API_MD_ROUTES = [
  'POST /v1/segment', 'POST /v1/identify', 'POST /v1/track', 'POST /v1/batch',
  'GET /v1/users', 'GET /v1/users/{id}', 'GET /v1/users/attention', 'POST /v1/users/{id}/merge', 'DELETE /v1/users/{id}', 'POST /v1/users/import',
  'GET /v1/features', 'POST /v1/features', 'DELETE /v1/features/{id}',
  'GET /v1/rules', 'POST /v1/rules', 'GET /v1/rules/{id}', 'PATCH /v1/rules/{id}', 'DELETE /v1/rules/{id}', 'POST /v1/rules/preview',
  'GET /v1/events/unmapped', 'GET /v1/reprocess-jobs', 'GET /v1/reprocess-jobs/{id}', 'GET /v1/usage', 'GET /v1/usage/records',
];

async function documentedRoutes() {
  const app = appUnderTest();
  const response = await app.request('GET', '/openapi.json');
  expect(response.statusCode).toBe(200);
  const document = response.json();
  expect(document.openapi).toBe('3.1.0');
  return { app, document, routes: Object.entries(document.paths as Record<string, object>).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)) };
}

describe('/openapi.json', () => {
  it('documents every route of API.md', async () => {
    const { routes } = await documentedRoutes();
    expect(API_MD_ROUTES.filter((route) => !routes.includes(route))).toEqual([]);
  });

  it('documents every route the gateway serves under /v1, and every admin prefix it forwards', async () => {
    const { app, routes } = await documentedRoutes();
    // printRoutes lists each path fastify serves with its methods, e.g. "├── /v1/page (POST)", or
    // "├── v1/page (POST)" under "└── / (GET, HEAD)" (the dashboard); the ingest routes are served
    // ahead of fastify by the ingest listener; fastify has their other methods only to answer 405.
    const ingest = new Set<string>(INGEST_ROUTES);
    const served = [
      ...[...app.app.printRoutes({ commonPrefix: false }).matchAll(/\/?(v1\/\S+) \(([^)]+)\)/g)]
        .map(([, path, methods]) => ({
          path: `/${path!}`,
          methods: methods!.split(', ').filter((method) => method !== 'HEAD'),
        }))
        .filter(({ path }) => !ingest.has(path)),
      ...INGEST_ROUTES.map((path) => ({ path, methods: ['POST'] })),
    ];
    expect(served.map(({ path }) => path)).toEqual(expect.arrayContaining(['/v1/segment', '/v1/track', '/v1/page', '/v1/alias']));
    const proxied = new Set(ADMIN_ROUTES.map(({ prefix }) => prefix));
    // A route of its own must be in the document with each method; a forwarded prefix by at least one path under it.
    const undocumented = served.flatMap(({ path, methods }) =>
      proxied.has(path)
        ? routes.some((route) => route.split(' ')[1] === path || route.split(' ')[1]!.startsWith(`${path}/`)) ? [] : [`* ${path}`]
        : methods.map((method) => `${method} ${path}`).filter((route) => !routes.includes(route)),
    );
    expect(undocumented).toEqual([]);
    for (const { prefix } of ADMIN_ROUTES) {
      expect(ADMIN_ROUTE_SPECS.some((spec) => spec.path === prefix || spec.path.startsWith(`${prefix}/`))).toBe(true);
    }
  });

  it('documents the unsupported Tracking API calls as 501 with the error shape, and 401', async () => {
    const { app, document } = await documentedRoutes();
    for (const type of ['page', 'screen', 'group', 'alias']) {
      const call = document.paths[`/v1/${type}`].post;
      expect(Object.keys(call.responses).sort()).toEqual(['401', '501']);
      expect(call.responses['501'].content['application/json'].schema.properties.message.type).toBe('string');
      const answer = await app.request('POST', `/v1/${type}`, { body: {}, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } });
      expect(answer.statusCode).toBe(501);
      expect(answer.json()).toEqual({ message: `call type '${type}' is not supported: Kana accepts identify and track` });
      expect((await app.request('POST', `/v1/${type}`, { body: {} })).statusCode).toBe(401);
    }
  });

  it('describes the ingest body from the zod schemas, with the error shape', async () => {
    const { document } = await documentedRoutes();
    const track = document.paths['/v1/track'].post;
    expect(track.requestBody.content['application/json'].schema.properties.userId).toBeDefined();
    expect(track.responses['413'].content['application/json'].schema.properties.message.type).toBe('string');
    expect(Object.keys(track.responses).sort()).toEqual(['200', '400', '401', '413', '415', '501', '503']);
    expect(Object.keys(document.components.securitySchemes)).toEqual(['basic', 'bearer']);
  });

  it('describes admin requests with the very schemas the owning services validate with', async () => {
    const spec = (route: string) => ADMIN_ROUTE_SPECS.find((candidate) => `${candidate.method.toUpperCase()} ${candidate.path}` === route)!;
    // The same objects, not copies: what the document says is what the routes check.
    expect(spec('POST /v1/rules').body).toBe(adminApi.ruleInput);
    expect(spec('PATCH /v1/rules/{id}').body).toBe(adminApi.rulePatch);
    expect(spec('POST /v1/rules/preview').body).toBe(adminApi.previewInput);
    expect(spec('POST /v1/features').body).toBe(adminApi.featureInput);
    expect(spec('POST /v1/users/import').body).toBe(adminApi.importBody);
    expect(spec('GET /v1/users').query).toBe(adminApi.usersQuery);
    expect(spec('GET /v1/events/unmapped').query).toBe(adminApi.unmappedQuery);

    const { document } = await documentedRoutes();
    const body = (path: string, method: string) => document.paths[path][method].requestBody.content['application/json'].schema;
    // What a client generated from the document sees: conditions optional, enabled accepted, no other keys.
    const rule = body('/v1/rules', 'post');
    expect(rule.required).toEqual(['featureId', 'eventName']);
    expect(Object.keys(rule.properties)).toEqual(['featureId', 'eventName', 'conditions', 'enabled']);
    expect(rule.additionalProperties).toBe(false);
    expect(rule.properties.featureId.pattern).toBeDefined();
    expect(body('/v1/rules/{id}', 'patch').additionalProperties).toBe(false);
    // The Tracking API's identify and track calls imply their type; /v1/segment needs it.
    expect(body('/v1/track', 'post').required ?? []).not.toContain('type');
    expect(body('/v1/identify', 'post').required ?? []).not.toContain('type');
    expect(body('/v1/segment', 'post').required).toContain('type');
    // limit is capped, not refused, on every list.
    const limits = Object.values(document.paths as Record<string, Record<string, { parameters?: { name: string; schema: { maximum?: number } }[] }>>)
      .flatMap((item) => Object.values(item))
      .flatMap((operation) => operation.parameters ?? [])
      .filter((parameter) => parameter.name === 'limit');
    expect(limits.length).toBeGreaterThanOrEqual(7);
    expect(limits.every((parameter) => parameter.schema.maximum === undefined)).toBe(true);
  });
});
