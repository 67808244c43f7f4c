import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { AppError, httpError } from './errors';
import type { Registry } from './metrics';
import { unstorableMessage, unstorablePart } from './storable';

export type { FastifyInstance, FastifyRequest };

export interface HttpServerOptions {
  logger: Logger;
  metrics: Registry;
  /** Readiness: dependencies connected, consumers running. */
  ready: () => boolean | Promise<boolean>;
  bodyLimit?: number;
  /**
   * Serves some requests on node:http ahead of fastify (the gateway's ingest routes, its hot
   * path); returns false for every request fastify should serve.
   */
  intercept?: (request: IncomingMessage, response: ServerResponse) => boolean;
}

/** The header through which the gateway tells an internal service whose data a request is about. */
export const ACCOUNT_HEADER = 'x-kana-account-id';

/**
 * Fastify with the endpoints every service has and one error policy: the
 * client always gets `{ message }` naming the field or the reason, never a
 * stack trace; unexpected errors are logged with their cause and answered 500.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Client-sent `__proto__` / `constructor.prototype` keys are refused (400), never merged into objects.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    ...(options.intercept ? { serverFactory: interceptingServer(options.intercept) } : {}),
  }) as unknown as FastifyInstance;

  // A DELETE takes no body here, yet many clients (axios, fetch wrappers, generated SDKs) send
  // `Content-Type: application/json` on every request: without a body there is no JSON to refuse,
  // where fastify would answer 400 "Body cannot be empty". A DELETE that does carry a body is parsed.
  app.addHook('onRequest', (request, _reply, done) => {
    const { headers } = request;
    if (request.method === 'DELETE' && headers['content-type'] !== undefined && headers['transfer-encoding'] === undefined && (headers['content-length'] ?? '0') === '0') {
      delete headers['content-type'];
    }
    done();
  });

  // Postgres cannot store U+0000 or half of a surrogate pair (storable.ts): a feature name, rule
  // value, imported customer or query holding one failed as a 500. Refused for every service, named.
  app.addHook('preValidation', (request, reply, done) => {
    const refusal = unstorableIn(request);
    if (refusal === undefined) return done();
    void reply.code(400).send({ message: refusal });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await Promise.resolve(options.ready()).catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType);
    return options.metrics.metrics();
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (error instanceof AppError) return sendAnswer(reply, errorAnswer(error, request.log));
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        // The limit that refused it: the route's own where it sets one (imports, the admin proxy).
        return reply.code(413).send({ message: `request body is larger than ${request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit} bytes` });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send({ message: `malformed JSON body: ${error.message}` });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ message: 'content-type must be application/json' });
    }
    if (error instanceof SyntaxError || error.message?.includes('prototype property')) {
      return reply.code(400).send({ message: `malformed JSON body: ${error.message}` });
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ message: error.message });
    }
    return sendAnswer(reply, errorAnswer(error, request.log));
  });

  return app;
}

/** The 400's message when a request's parsed body, query or path holds what Postgres cannot store. */
function unstorableIn(request: FastifyRequest): string | undefined {
  const body = Buffer.isBuffer(request.body) ? undefined : unstorablePart(request.body);
  if (body !== undefined) return unstorableMessage(body.path === '' ? 'the body' : `field '${body.path}'`, body.text);
  const query = unstorablePart(request.query);
  if (query !== undefined) return unstorableMessage(`query parameter '${query.path}'`, query.text);
  const params = unstorablePart(request.params);
  return params === undefined ? undefined : unstorableMessage(`path segment '${params.path}'`, params.text);
}

export interface ErrorAnswer {
  status: number;
  body: { message: string };
  headers?: Record<string, string>;
}

const internalError = (): ErrorAnswer => ({ status: 500, body: { message: 'internal error; the request was not processed' } });

/**
 * What a request that failed answers, on fastify's routes and on anything serving requests beside
 * it (the gateway's ingest listener): an AppError its status and message, a 503 with Retry-After;
 * a 500 says no more, whatever it wraps (a database's message is for the log, not the client).
 * Logs what needs looking at (5xx).
 */
export function errorAnswer(error: unknown, log: Pick<Logger, 'error'>): ErrorAnswer {
  if (error instanceof AppError) {
    if (error.status >= 500) log.error({ err: error }, error.message);
    if (error.status === 500) return internalError();
    return { status: error.status, body: { message: error.message }, ...(error.status === 503 ? { headers: { 'retry-after': '5' } } : {}) };
  }
  log.error({ err: error }, 'request failed');
  return internalError();
}

function sendAnswer(reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  if (answer.headers) void reply.headers(answer.headers);
  return reply.code(answer.status).send(answer.body);
}

type ServerTimeouts = { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number; maxRequestsPerSocket?: number | null };

/**
 * The node:http server fastify would create, with `intercept` in front of fastify's handler. Fastify
 * applies its timeouts only to servers it creates, so they are applied here the same way (its
 * keep-alive of 72 s, longer than the 60 s idle timeout of common load balancers, rather than
 * node's 5 s, which would close connections a balancer still considers open).
 */
function interceptingServer(intercept: NonNullable<HttpServerOptions['intercept']>) {
  return (fastifyHandler: (request: IncomingMessage, response: ServerResponse) => void, options: ServerTimeouts) => {
    const server = createServer((request, response) => {
      if (!intercept(request, response)) fastifyHandler(request, response);
    });
    if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };
}

/** Validates `value` or throws a 400 whose message names the failing field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw httpError(400, describeZodError(result.error, where));
}

export function describeZodError(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  if (!issue) return `invalid ${where}`;
  const path = issue.path.map(String).join('.');
  return `invalid ${where}${path ? ` field '${path}'` : ''}: ${issue.message}`;
}

/** The account a forwarded admin request is about; internal routes refuse requests without it. */
export function requireAccountId(request: FastifyRequest): string {
  const value = request.headers[ACCOUNT_HEADER];
  if (typeof value !== 'string' || value.length === 0) throw httpError(401, 'missing account: admin routes are reached through the gateway');
  return value;
}
