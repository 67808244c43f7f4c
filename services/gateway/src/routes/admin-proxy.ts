import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCOUNT_HEADER, UnavailableError } from '@kana/platform';

export type Upstream = 'identity' | 'rules' | 'usage';

/** Which service owns which admin path prefix (API.md). */
export const ADMIN_ROUTES: readonly { prefix: string; upstream: Upstream }[] = [
  { prefix: '/v1/users', upstream: 'identity' },
  { prefix: '/v1/features', upstream: 'rules' },
  { prefix: '/v1/rules', upstream: 'rules' },
  { prefix: '/v1/events', upstream: 'rules' },
  { prefix: '/v1/reprocess-jobs', upstream: 'rules' },
  { prefix: '/v1/usage', upstream: 'usage' },
];

export interface AdminProxyConfig {
  upstreams: Record<Upstream, string>;
  timeoutMs: number;
  /** Admin bodies (a customer import) can be larger than ingest requests. */
  bodyLimit: number;
}

// Hop-by-hop headers, the credential and anything the client could use to
// impersonate another account never reach the internal services.
const DROPPED_HEADERS = new Set(['authorization', 'host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', ACCOUNT_HEADER]);

/**
 * Authenticated admin calls are forwarded unchanged (method, path, query,
 * body bytes) to the owning service with the account id in
 * `x-kana-account-id`; the internal services trust that header, so a client
 * sending its own is overwritten. Bodies are passed through as bytes: the
 * owning service validates them.
 */
export async function adminProxyRoutes(app: FastifyInstance, config: AdminProxyConfig): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.bodyLimit }, (_request, body, done) => done(null, body));
  for (const { prefix, upstream } of ADMIN_ROUTES) {
    const handler = (request: FastifyRequest, reply: FastifyReply) => forward(request, reply, upstream, prefix, config);
    app.all(prefix, { bodyLimit: config.bodyLimit }, handler);
    app.all(`${prefix}/*`, { bodyLimit: config.bodyLimit }, handler);
  }
}

/**
 * The path exactly as it will reach the owning service, or undefined when it
 * could reach anything else. `new URL()` and every HTTP stack resolve `..`
 * (also percent-encoded, also with backslashes), so `/v1/rules/../../internal/…`
 * would leave the admin prefix the gateway authorised and reach internal routes
 * that trust the account id in their path.
 */
export function forwardablePath(url: string, prefix: string): string | undefined {
  const [path = '', query] = splitOnce(url, '?');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\\') || decoded.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  if (decoded !== prefix && !decoded.startsWith(`${prefix}/`)) return undefined;
  return query === undefined ? path : `${path}?${query}`;
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const index = value.indexOf(separator);
  return index < 0 ? [value, undefined] : [value.slice(0, index), value.slice(index + 1)];
}

async function forward(request: FastifyRequest, reply: FastifyReply, upstream: Upstream, prefix: string, config: AdminProxyConfig) {
  const path = forwardablePath(request.url, prefix);
  if (path === undefined) return reply.code(400).send({ message: `invalid path: '.' and '..' segments are not allowed in admin paths` });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !DROPPED_HEADERS.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers[ACCOUNT_HEADER] = request.accountId;
  const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined;
  let response: Response;
  try {
    response = await fetch(`${config.upstreams[upstream].replace(/\/+$/, '')}${path}`, {
      method: request.method,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? undefined : body,
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `did not answer within ${config.timeoutMs} ms` : 'is unavailable';
    throw new UnavailableError(`the ${upstream} service ${reason}; retry later`, error);
  }
  const payload = Buffer.from(await response.arrayBuffer());
  for (const name of ['content-type', 'retry-after', 'location']) {
    const value = response.headers.get(name);
    if (value) void reply.header(name, value);
  }
  return reply.code(response.status).send(payload);
}
