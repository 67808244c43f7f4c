import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';

// What Segment and a dashboard user do: plain HTTP to the gateway, nothing else.

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the test sees the text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** Segment's destination authenticates with Basic base64(key + ":"). */
export const basicAuth = (apiKey: string) => `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;

export function segment(baseUrl: string, apiKey: string, headers: Record<string, string> = {}) {
  const post = (path: string, body: unknown) => call(baseUrl, 'POST', path, body, { authorization: basicAuth(apiKey), ...headers });
  return {
    track: (event: Record<string, unknown>) => post('/v1/track', event),
    identify: (event: Record<string, unknown>) => post('/v1/identify', event),
    /** What Segment's destination delivers: one event of any type on /v1/segment. */
    send: (event: Record<string, unknown>) => post('/v1/segment', event),
    batch: (events: unknown[]) => post('/v1/batch', { batch: events }),
  };
}

/** The dashboard: Bearer key on the admin API. */
export function admin(baseUrl: string, apiKey: string, headers: Record<string, string> = {}) {
  const request = <T = any>(method: string, path: string, body?: unknown) => call<T>(baseUrl, method, path, body, { authorization: `Bearer ${apiKey}`, ...headers });
  return {
    request,
    get: <T = any>(path: string) => request<T>('GET', path),
    post: <T = any>(path: string, body: unknown) => request<T>('POST', path, body),
    patch: <T = any>(path: string, body: unknown) => request<T>('PATCH', path, body),
    delete: <T = any>(path: string) => request<T>('DELETE', path),
  };
}
export type AdminClient = ReturnType<typeof admin>;
export type SegmentClient = ReturnType<typeof segment>;

let clock = Date.parse('2026-03-01T00:00:00Z');
/** Strictly increasing event times, so "last writer wins" is deterministic across a test file. */
const nextTimestamp = () => new Date((clock += 1_000)).toISOString();

export function aTrack(overrides: Record<string, unknown> & { properties?: Record<string, unknown> } = {}): Record<string, unknown> {
  return { type: 'track', userId: 'user-1', event: 'Message Sent', messageId: `m-${randomUUID()}`, timestamp: nextTimestamp(), properties: {}, ...overrides };
}

export function anIdentify(overrides: Record<string, unknown> & { traits?: Record<string, unknown> } = {}): Record<string, unknown> {
  return { type: 'identify', userId: 'user-1', messageId: `m-${randomUUID()}`, timestamp: nextTimestamp(), traits: {}, ...overrides };
}

/** Sum of totals in a GET /v1/usage answer. */
export function totalOf(reply: Reply<{ data: { total: number }[] }>): number {
  if (reply.status !== 200) throw new Error(`GET /v1/usage answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body.data.reduce((sum, row) => sum + Number(row.total), 0);
}

/**
 * A request whose path is sent byte for byte (fetch and URL normalise `..` and
 * `%2e%2e` before sending; an attacker's client does not).
 */
export function rawRequest(baseUrl: string, method: string, rawPath: string, headers: Record<string, string> = {}): Promise<Reply<string>> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, method, path: rawPath, headers, timeout: 20_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: new Headers() }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${rawPath} timed out`)));
    request.on('error', reject);
    request.end();
  });
}
