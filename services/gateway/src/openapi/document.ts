import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { adminApi as admin, UNSUPPORTED_TYPES } from '@kana/schemas';
import { batchAnswer, batchInput, errorBody, identifyInput, okBody, segmentInput, trackInput } from './ingest-contract';

type Method = RouteConfig['method'];
interface RouteSpec {
  method: Method;
  path: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  response?: z.ZodType;
  status?: number;
}

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { description: ERROR_TEXT[status] ?? 'error', ...json(errorBody) }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'invalid or anonymous event; the message names the field',
  401: 'missing, unknown or revoked API key',
  413: 'over 32 KB per event or 500 KB per request (after gzip is inflated)',
  415: 'the body is not sent as application/json, or in an encoding other than gzip',
  501: 'page, screen, group and alias are not supported',
  503: 'not stored (Kafka or a service unavailable); retry after Retry-After seconds',
};

export const INGEST_ROUTES: RouteSpec[] = [
  { method: 'post', path: '/v1/segment', summary: 'One event as Segment delivers it, or {batch}', body: segmentInput, response: okBody },
  { method: 'post', path: '/v1/identify', summary: 'One identify call (HTTP Tracking API)', body: identifyInput, response: okBody },
  { method: 'post', path: '/v1/track', summary: 'One track call (HTTP Tracking API)', body: trackInput, response: okBody },
  { method: 'post', path: '/v1/batch', summary: 'Several calls; answers which were stored', body: batchInput, response: batchAnswer },
  { method: 'post', path: '/v1/import', summary: 'The same as /v1/batch (its older name in the HTTP Tracking API)', body: batchInput, response: batchAnswer },
];

export const ADMIN_ROUTE_SPECS: RouteSpec[] = [
  { method: 'get', path: '/v1/users', summary: 'List users', query: admin.usersQuery, response: admin.usersPage },
  { method: 'get', path: '/v1/users/attention', summary: 'Users that need attention', query: admin.pageQuery, response: admin.attention },
  { method: 'get', path: '/v1/users/{id}', summary: 'One user', response: admin.user },
  { method: 'post', path: '/v1/users/{id}/merge', summary: 'Merge a user into another', body: admin.mergeBody, response: admin.user },
  { method: 'delete', path: '/v1/users/{id}', summary: 'Delete a user', status: 204 },
  { method: 'post', path: '/v1/users/import', summary: 'Import Stripe customers', body: admin.importBody, response: admin.importAnswer },
  { method: 'get', path: '/v1/features', summary: 'List features', query: admin.pageQuery, response: admin.featuresPage },
  { method: 'post', path: '/v1/features', summary: 'Create a feature', body: admin.featureInput, response: admin.feature, status: 201 },
  { method: 'delete', path: '/v1/features/{id}', summary: 'Delete a feature', status: 204 },
  { method: 'get', path: '/v1/rules', summary: 'List rules', query: admin.pageQuery, response: admin.rulesPage },
  { method: 'post', path: '/v1/rules', summary: 'Create a rule', body: admin.ruleInput, response: admin.rule, status: 201 },
  { method: 'get', path: '/v1/rules/{id}', summary: 'One rule', response: admin.rule },
  { method: 'patch', path: '/v1/rules/{id}', summary: 'Change a rule', body: admin.rulePatch, response: admin.rule },
  { method: 'delete', path: '/v1/rules/{id}', summary: 'Delete a rule', status: 204 },
  { method: 'post', path: '/v1/rules/preview', summary: 'Unmapped events a rule would map', body: admin.previewInput, response: admin.previewAnswer },
  { method: 'get', path: '/v1/events/unmapped', summary: 'Events that mapped to no feature', query: admin.unmappedQuery, response: admin.unmappedPage },
  { method: 'get', path: '/v1/reprocess-jobs', summary: 'Reprocess jobs', query: admin.pageQuery, response: admin.reprocessJobsPage },
  { method: 'get', path: '/v1/reprocess-jobs/{id}', summary: 'One reprocess job', response: admin.reprocessJob },
  { method: 'get', path: '/v1/usage', summary: 'Usage totals', query: admin.usageQuery, response: admin.usageTotalsPage },
  { method: 'get', path: '/v1/usage/records', summary: 'Usage records', query: admin.usageRecordsQuery, response: admin.usageRecordsPage },
];

/** OpenAPI 3.1 of the whole public contract, generated from the zod schemas (never written by hand). */
export function openApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'basic', { type: 'http', scheme: 'basic', description: 'base64(apiKey + ":"), what Segment sends' });
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'the API key' });
  const security: Record<string, string[]>[] = [{ basic: [] }, { bearer: [] }];
  for (const spec of INGEST_ROUTES) {
    registry.registerPath({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tags: ['ingest'],
      security,
      request: { body: { required: true, ...json(spec.body!) } },
      responses: { 200: { description: 'stored (acks=all)', ...json(spec.response!) }, ...errors(400, 401, 413, 415, 501, 503) },
    });
  }
  for (const type of UNSUPPORTED_TYPES) {
    registry.registerPath({
      method: 'post',
      path: `/v1/${type}`,
      summary: `The Tracking API's ${type} call: not supported, answers 501 once authenticated`,
      tags: ['ingest'],
      security,
      responses: errors(401, 501),
    });
  }
  for (const spec of ADMIN_ROUTE_SPECS) {
    const status = spec.status ?? 200;
    registry.registerPath({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tags: [spec.path.split('/')[2]!],
      security,
      request: {
        ...(spec.path.includes('{id}') ? { params: spec.path.startsWith('/v1/users/') ? admin.userIdParams : admin.catalogIdParams } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.body ? { body: { required: true, ...json(spec.body) } } : {}),
      },
      responses: {
        [status]: spec.response ? { description: 'ok', ...json(spec.response) } : { description: 'done' },
        ...errors(400, 401, 503),
      },
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Kana ingest', version: '1.0.0', description: 'Segment destination endpoint and admin API of Kana' },
    servers: [{ url: '/' }],
  });
}
