import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { parse as parseJson } from 'secure-json-parse';
import { AppError, errorAnswer, type Logger } from '@kana/platform';
import { resolveAccount } from '../auth/authenticate';
import type { KeyCache } from '../auth/key-cache';
import type { GatewayMetrics } from '../metrics';
import { INGEST_ROUTES, type Ingest, type IngestAnswer, type IngestRoute } from './ingest';

export interface IngestListenerDeps {
  ingest: Ingest;
  keys: KeyCache;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Largest request body accepted; larger ones are answered 413 without being read. */
  bodyLimit: number;
  /** True once the server is shutting down: new requests get 503 + Retry-After. */
  closing: () => boolean;
}

type Answer = { status: number; body: object; headers?: Record<string, string> };

const ROUTES = new Set<string>(INGEST_ROUTES);

/**
 * `POST /v1/segment|identify|track|batch` on node:http, ahead of fastify (the
 * platform's `intercept`): every Segment call goes through here, and fastify's
 * per-request machinery (request and reply objects, hooks, content-type parser,
 * async handler wrapper) was ~11% of the gateway's CPU per event, measured as
 * 0.78 of bare node:http for an empty route with two hooks.
 *
 * It keeps every answer the fastify routes gave, in the same words: 401 before
 * the body is read, 415 for a body that is not JSON (or in an encoding other
 * than gzip), 413 over the body limit
 * (from Content-Length when declared, without reading), 400 for malformed JSON
 * and for `__proto__` / `constructor.prototype` keys (secure-json-parse, as
 * fastify), 503 + Retry-After when storing fails or the server is closing,
 * 500 without details for a bug (logged). Metrics and request logs as for
 * every other route. Returns false for any other request, which fastify serves.
 */
export function ingestListener(deps: IngestListenerDeps): (request: IncomingMessage, response: ServerResponse) => boolean {
  const log = deps.logger.child({ component: 'http' });
  return (request, response) => {
    if (request.method !== 'POST') return false;
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (!ROUTES.has(path)) return false;
    const started = process.hrtime.bigint();
    void serve(deps, path as IngestRoute, request)
      .then(
        (answer) => finish(deps, log, request, response, path, answer, started),
        (error: unknown) => finish(deps, log, request, response, path, failure(log, path, error), started),
      )
      .catch((error: unknown) => {
        // Writing the answer failed (the socket broke in between): nothing left to tell the client.
        log.warn({ err: error, route: path }, 'could not write the answer');
        response.destroy();
      });
    return true;
  };
}

async function serve(deps: IngestListenerDeps, route: IngestRoute, request: IncomingMessage): Promise<Answer> {
  if (deps.closing()) return { status: 503, body: { message: 'the gateway is shutting down; retry later' }, headers: { 'retry-after': '5', connection: 'close' } };
  // Before the body is read, so a request with a bad key costs no parsing.
  const resolved = resolveAccount(deps.keys, request.headers.authorization);
  const accountId = resolved instanceof Promise ? await resolved : resolved;
  if (accountId instanceof AppError) return { status: accountId.status, body: { message: accountId.message } };

  const body = await readJson(request, deps.bodyLimit);
  if ('status' in body) return body;
  return asAnswer(await deps.ingest.handle({ route, body: body.value, accountId, requestBytes: body.bytes, noUnicodeEscape: body.noUnicodeEscape }));
}

const asAnswer = (answer: IngestAnswer): Answer => ({ status: answer.status, body: answer.body, ...(answer.requestId ? { headers: { 'x-kana-request-id': answer.requestId } } : {}) });

/** An error the ingest could not turn into an answer: the client left, storing failed (503), or a bug (500). */
function failure(log: Logger, route: string, error: unknown): Answer {
  if (error instanceof ClientGone) return { status: 499, body: {} };
  // As every other route answers it (the platform's error handler).
  return errorAnswer(error, log.child({ route }));
}

function finish(deps: IngestListenerDeps, log: Logger, request: IncomingMessage, response: ServerResponse, route: string, answer: Answer, started: bigint): void {
  deps.metrics.requests.inc({ method: 'POST', route, status: String(answer.status) });
  if (answer.status === 499) {
    // The client went away before its body arrived: nobody to answer, nothing was stored.
    response.destroy();
  } else {
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...answer.headers });
    response.end(text);
  }
  if (log.isLevelEnabled('info')) {
    const requestId = request.headers['x-request-id'];
    log.info(
      { reqId: typeof requestId === 'string' ? requestId : answer.headers?.['x-kana-request-id'], req: { method: 'POST', url: request.url }, res: { statusCode: answer.status }, responseTime: Number(process.hrtime.bigint() - started) / 1e6 },
      'request completed',
    );
  }
}

class ClientGone extends Error {}

type Body = { value: unknown; bytes: number | undefined; noUnicodeEscape: boolean } | Answer;

/** The request's JSON body (undefined when it has none), or the answer that refuses it. */
async function readJson(request: IncomingMessage, limit: number): Promise<Body> {
  const declared = request.headers['content-length'];
  const hasBody = request.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
  const contentType = request.headers['content-type'];
  if (contentType === undefined && !hasBody) return { value: undefined, bytes: 0, noUnicodeEscape: true };
  const semicolon = contentType?.indexOf(';') ?? -1;
  const mediaType = (semicolon < 0 ? contentType : contentType!.slice(0, semicolon))?.trim().toLowerCase();
  if (mediaType !== 'application/json') return { status: 415, body: { message: 'content-type must be application/json' } };
  const encoding = contentEncoding(request.headers['content-encoding']);
  if (encoding === undefined) {
    return { status: 415, body: { message: `content-encoding '${String(request.headers['content-encoding']).slice(0, 40)}' is not supported: send the body as is or gzip-compressed` } };
  }
  if (declared !== undefined && Number(declared) > limit) return tooLarge(limit);

  const read = await readBody(request, limit);
  if (!Buffer.isBuffer(read)) return read;
  let body = read;
  if (encoding === 'gzip' && body.length > 0) {
    // Segment's Java library, and the others when asked, send gzip. The limit holds for what it inflates to.
    const inflated = await inflate(body, limit);
    if ('status' in inflated) return inflated;
    body = inflated;
  }
  const bytes = body.length;
  const text = body.toString('utf8');
  if (bytes === 0) return { status: 400, body: { message: 'malformed JSON body: the body is empty' } };
  try {
    // JSON carries U+0000 and lone surrogates only as \u escapes: without one, no event needs a look for them.
    return { value: parseJson(text, undefined, { protoAction: 'error', constructorAction: 'error' }), bytes, noUnicodeEscape: !text.includes('\\u') };
  } catch (error) {
    return { status: 400, body: { message: `malformed JSON body: ${(error as Error).message}` } };
  }
}

/** 'identity' or 'gzip' for the encodings we read; undefined for any other. */
function contentEncoding(header: string | undefined): 'identity' | 'gzip' | undefined {
  if (header === undefined) return 'identity';
  const name = header.trim().toLowerCase();
  if (name === '' || name === 'identity') return 'identity';
  return name === 'gzip' || name === 'x-gzip' ? 'gzip' : undefined;
}

const gunzipAsync = promisify(gunzip);

async function inflate(compressed: Buffer, limit: number): Promise<Buffer | Answer> {
  try {
    return await gunzipAsync(compressed, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(limit);
    return { status: 400, body: { message: `malformed gzip body: ${(error as Error).message}` } };
  }
}

const tooLarge = (limit: number): Answer => ({ status: 413, body: { message: `request body is larger than ${limit} bytes` }, headers: { connection: 'close' } });

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const done = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onGone);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) {
        done();
        // Read and drop the rest; the answer closes the connection.
        request.resume();
        resolve(tooLarge(limit));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
    };
    const onGone = () => {
      done();
      reject(new ClientGone());
    };
    const onClose = () => {
      if (!request.complete) onGone();
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onGone);
    request.on('close', onClose);
  });
}
