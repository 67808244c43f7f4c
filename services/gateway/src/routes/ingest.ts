import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpError } from '@kana/platform';
import { UNSUPPORTED_TYPES, type SegmentEvent } from '@kana/schemas';
import { MAX_NESTING, nestsDeeperThan } from '../domain/nesting';
import { MAX_EVENT_BYTES, normalizeEvent, unsupportedCallMessage, type NormalizeContext, type Rejection } from '../domain/normalize';
import { typeLabel, type GatewayMetrics } from '../metrics';
import type { EventSink } from '../ports';

export interface IngestDeps {
  sink: EventSink;
  metrics: GatewayMetrics;
  now?: () => Date;
}

type BatchAnswer = { accepted: number; rejected: { index: number; message: string }[] };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Segment's partner delivery (`/v1/segment`) and the HTTP Tracking API shape
 * (`/v1/identify`, `/v1/track`, `/v1/batch`). A 200 means every accepted
 * event is in Kafka (acks=all); when storing fails the whole request answers
 * 503 + Retry-After and Segment retries it, which the messageIds make harmless.
 */
export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  app.post('/v1/segment', (request, reply) => {
    const body = request.body;
    if (isObject(body) && 'batch' in body) return ingestBatch(request, reply, deps);
    return ingestOne(request, reply, deps, undefined);
  });
  app.post('/v1/identify', (request, reply) => ingestOne(request, reply, deps, 'identify'));
  app.post('/v1/track', (request, reply) => ingestOne(request, reply, deps, 'track'));
  app.post('/v1/batch', (request, reply) => ingestBatch(request, reply, deps));
  // The Tracking API's other calls: the same 501 as when their type arrives on /v1/segment, not a 404
  // that reads like a wrong base URL.
  for (const type of UNSUPPORTED_TYPES) {
    app.post(`/v1/${type}`, (_request, reply) => reply.code(501).send({ message: unsupportedCallMessage(type) }));
  }
}

function contextOf(request: FastifyRequest, deps: IngestDeps, extra: Partial<NormalizeContext> = {}): NormalizeContext & { requestId: string } {
  const receivedAt = (deps.now ? deps.now() : new Date()).toISOString();
  const length = Number(request.headers['content-length']);
  const requestBytes = Number.isFinite(length) && length > 0 ? length : undefined;
  return { accountId: request.accountId, receivedAt, requestId: randomUUID(), ...(requestBytes ? { requestBytes } : {}), ...extra };
}

async function ingestOne(request: FastifyRequest, reply: FastifyReply, deps: IngestDeps, impliedType: NormalizeContext['impliedType']) {
  const context = contextOf(request, deps, impliedType ? { impliedType } : {});
  const result = normalizeEvent(request.body, context);
  const type = typeLabel(result.ok ? result.event : request.body);
  if (!result.ok) {
    deps.metrics.events.inc({ type, outcome: 'rejected' });
    return reply.code(result.rejection.status).send({ message: result.rejection.message });
  }
  await store(request, deps, context, [result.event]);
  void reply.header('x-kana-request-id', context.requestId);
  return { message: 'ok' };
}

/**
 * A batch stores its valid events and lists the others with their reason.
 * When at least one event was stored the answer is 200: a 4xx would tell the
 * sender nothing was kept, and a 5xx would make it resend events that can
 * never be accepted. When none was accepted the answer is the rejections'
 * status (400, or 413/501 when they all share it) with the same body, so
 * Segment's delivery view shows the failure instead of a green 200.
 */
async function ingestBatch(request: FastifyRequest, reply: FastifyReply, deps: IngestDeps) {
  const body = request.body;
  if (!isObject(body) || !Array.isArray(body.batch) || body.batch.length === 0) {
    throw httpError(400, "field 'batch' must be a non-empty array of events");
  }
  // Merged into every event, so they would reach the same recursion as an event's own fields.
  for (const name of ['context', 'integrations'] as const) {
    if (nestsDeeperThan(body[name], MAX_NESTING)) throw httpError(400, `field '${name}' of the batch nests objects and arrays deeper than ${MAX_NESTING} levels`);
  }
  // Every event carries these once stored: they count against each event's 32 KB, or a
  // 400 KB batch context would turn one request into hundreds of 400 KB events.
  const merged = { context: isObject(body.context) ? body.context : {}, integrations: isObject(body.integrations) ? body.integrations : {} };
  const defaultsBytes = isObject(body.context) || isObject(body.integrations) ? Buffer.byteLength(JSON.stringify(merged)) : 0;
  if (defaultsBytes > MAX_EVENT_BYTES) {
    throw httpError(413, `the batch's context and integrations are ${defaultsBytes} bytes; every event carries them and the limit is 32 KB per event`);
  }
  const context = contextOf(request, deps, { batchDefaults: { context: body.context, integrations: body.integrations, sentAt: body.sentAt, bytes: defaultsBytes } });
  const events: SegmentEvent[] = [];
  const rejections: (Rejection & { index: number })[] = [];
  body.batch.forEach((raw, index) => {
    const result = normalizeEvent(raw, context);
    if (result.ok) events.push(result.event);
    else {
      rejections.push({ index, ...result.rejection });
      deps.metrics.events.inc({ type: typeLabel(raw), outcome: 'rejected' });
    }
  });
  const answer: BatchAnswer = { accepted: events.length, rejected: rejections.map(({ index, message }) => ({ index, message })) };
  if (events.length === 0) {
    const statuses = new Set(rejections.map((rejection) => rejection.status));
    const status = statuses.size === 1 ? rejections[0]!.status : 400;
    return reply.code(status).send({ message: `no event of the batch was accepted: ${rejections[0]!.message} (index ${rejections[0]!.index})`, ...answer });
  }
  await store(request, deps, context, events);
  void reply.header('x-kana-request-id', context.requestId);
  return answer;
}

async function store(_request: FastifyRequest, deps: IngestDeps, context: { requestId: string; receivedAt: string; accountId: string }, events: SegmentEvent[]) {
  const started = process.hrtime.bigint();
  try {
    await deps.sink.store({ accountId: context.accountId, requestId: context.requestId, receivedAt: context.receivedAt, events });
  } catch (error) {
    deps.metrics.produceSeconds.observe({ outcome: 'failed' }, Number(process.hrtime.bigint() - started) / 1e9);
    countByType(deps, events, 'failed');
    // The platform's error handler logs it and answers 503 + Retry-After for a retriable AppError.
    throw error;
  }
  deps.metrics.produceSeconds.observe({ outcome: 'stored' }, Number(process.hrtime.bigint() - started) / 1e9);
  countByType(deps, events, 'accepted');
}

/** One counter update per type and request, not per event (a label lookup each). */
function countByType(deps: IngestDeps, events: SegmentEvent[], outcome: 'accepted' | 'failed'): void {
  let track = 0;
  for (const event of events) if (event.type === 'track') track++;
  if (track > 0) deps.metrics.events.inc({ type: 'track', outcome }, track);
  if (events.length > track) deps.metrics.events.inc({ type: 'identify', outcome }, events.length - track);
}
