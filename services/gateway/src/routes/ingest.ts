import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
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

/** Segment's partner delivery (`/v1/segment`) and the HTTP Tracking API shape. */
// /v1/import: the Tracking API's older name for batch, which Segment's Java library still posts to.
export const INGEST_ROUTES = ['/v1/segment', '/v1/identify', '/v1/track', '/v1/batch', '/v1/import'] as const;
export type IngestRoute = (typeof INGEST_ROUTES)[number];

export interface IngestRequest {
  route: IngestRoute;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** The account of the request's API key. */
  accountId: string;
  /** Size of the body in bytes, when known. */
  requestBytes: number | undefined;
  /** The body's JSON text holds no `\u` escape (NormalizeContext.noUnicodeEscape); unknown means its events are checked. */
  noUnicodeEscape?: boolean;
}

export interface IngestAnswer {
  status: number;
  body: { message: string } | BatchAnswer | (BatchAnswer & { message: string });
  /** Set when events were stored: the id the envelopes carry, echoed as `x-kana-request-id`. */
  requestId?: string;
}

type BatchAnswer = { accepted: number; rejected: { index: number; message: string }[] };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const refuse = (status: number, message: string): IngestAnswer => ({ status, body: { message } });

/**
 * What an ingest request answers, whatever carries it (routes/ingest-listener.ts
 * on node:http). A 200 means every accepted event is in Kafka (acks=all); when
 * storing fails this rejects with the sink's retriable error and the whole
 * request answers 503 + Retry-After: Segment retries it, which the messageIds
 * make harmless. Every other outcome is an answer, never an exception.
 */
export class Ingest {
  // The time received as ISO text, formatted once per millisecond rather than once per request.
  private clock = { ms: NaN, iso: '' };

  constructor(private readonly deps: IngestDeps) {}

  handle(request: IngestRequest): Promise<IngestAnswer> {
    switch (request.route) {
      case '/v1/segment':
        return isObject(request.body) && 'batch' in request.body ? this.batch(request) : this.one(request, undefined);
      case '/v1/identify':
        return this.one(request, 'identify');
      case '/v1/track':
        return this.one(request, 'track');
      case '/v1/batch':
      case '/v1/import':
        return this.batch(request);
    }
  }

  private context(request: IngestRequest, extra: Partial<NormalizeContext> = {}): NormalizeContext & { requestId: string } {
    const receivedAt = this.receivedAt();
    const requestBytes = request.requestBytes !== undefined && request.requestBytes > 0 ? request.requestBytes : undefined;
    return { accountId: request.accountId, receivedAt, requestId: randomUUID(), ...(requestBytes ? { requestBytes } : {}), noUnicodeEscape: request.noUnicodeEscape === true, ...extra };
  }

  private receivedAt(): string {
    if (this.deps.now) return this.deps.now().toISOString();
    const ms = Date.now();
    if (ms !== this.clock.ms) this.clock = { ms, iso: new Date(ms).toISOString() };
    return this.clock.iso;
  }

  private one(request: IngestRequest, impliedType: NormalizeContext['impliedType']): Promise<IngestAnswer> {
    const context = this.context(request, impliedType ? { impliedType } : {});
    const result = normalizeEvent(request.body, context);
    if (!result.ok) {
      this.deps.metrics.events.inc({ type: typeLabel(request.body), outcome: 'rejected' });
      return Promise.resolve(refuse(result.rejection.status, result.rejection.message));
    }
    return this.store(context, [result.event]).then(() => ({ status: 200, body: { message: 'ok' }, requestId: context.requestId }));
  }

  /**
   * A batch stores its valid events and lists the others with their reason.
   * When at least one event was stored the answer is 200: a 4xx would tell the
   * sender nothing was kept, and a 5xx would make it resend events that can
   * never be accepted. When none was accepted the answer is the rejections'
   * status (400, or 413/501 when they all share it) with the same body, so
   * Segment's delivery view shows the failure instead of a green 200.
   */
  private async batch(request: IngestRequest): Promise<IngestAnswer> {
    const body = request.body;
    if (!isObject(body) || !Array.isArray(body.batch) || body.batch.length === 0) {
      return refuse(400, "field 'batch' must be a non-empty array of events");
    }
    // Merged into every event, so they would reach the same recursion as an event's own fields.
    for (const name of ['context', 'integrations'] as const) {
      if (nestsDeeperThan(body[name], MAX_NESTING)) return refuse(400, `field '${name}' of the batch nests objects and arrays deeper than ${MAX_NESTING} levels`);
    }
    // Every event carries these once stored: they count against each event's 32 KB, or a
    // 400 KB batch context would turn one request into hundreds of 400 KB events.
    const merged = { context: isObject(body.context) ? body.context : {}, integrations: isObject(body.integrations) ? body.integrations : {} };
    const defaultsBytes = isObject(body.context) || isObject(body.integrations) ? Buffer.byteLength(JSON.stringify(merged)) : 0;
    if (defaultsBytes > MAX_EVENT_BYTES) {
      return refuse(413, `the batch's context and integrations are ${defaultsBytes} bytes; every event carries them and the limit is 32 KB per event`);
    }
    const context = this.context(request, { batchDefaults: { context: body.context, integrations: body.integrations, sentAt: body.sentAt, bytes: defaultsBytes } });
    const events: SegmentEvent[] = [];
    const rejections: (Rejection & { index: number })[] = [];
    body.batch.forEach((raw, index) => {
      const result = normalizeEvent(raw, context);
      if (result.ok) events.push(result.event);
      else {
        rejections.push({ index, ...result.rejection });
        this.deps.metrics.events.inc({ type: typeLabel(raw), outcome: 'rejected' });
      }
    });
    const answer: BatchAnswer = { accepted: events.length, rejected: rejections.map(({ index, message }) => ({ index, message })) };
    if (events.length === 0) {
      const statuses = new Set(rejections.map((rejection) => rejection.status));
      const status = statuses.size === 1 ? rejections[0]!.status : 400;
      return { status, body: { message: `no event of the batch was accepted: ${rejections[0]!.message} (index ${rejections[0]!.index})`, ...answer } };
    }
    await this.store(context, events);
    return { status: 200, body: answer, requestId: context.requestId };
  }

  private store(context: { requestId: string; receivedAt: string; accountId: string }, events: SegmentEvent[]): Promise<void> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    // A plain promise chain rather than an async function: this runs once per request.
    return this.deps.sink.store({ accountId: context.accountId, requestId: context.requestId, receivedAt: context.receivedAt, events }).then(
      () => {
        this.deps.metrics.produceSeconds.observe({ outcome: 'stored' }, seconds());
        this.countByType(events, 'accepted');
      },
      (error: unknown) => {
        this.deps.metrics.produceSeconds.observe({ outcome: 'failed' }, seconds());
        this.countByType(events, 'failed');
        throw error;
      },
    );
  }

  /** One counter update per type and request, not per event (a label lookup each). */
  private countByType(events: SegmentEvent[], outcome: 'accepted' | 'failed'): void {
    let track = 0;
    for (const event of events) if (event.type === 'track') track++;
    if (track > 0) this.deps.metrics.events.inc({ type: 'track', outcome }, track);
    if (events.length > track) this.deps.metrics.events.inc({ type: 'identify', outcome }, events.length - track);
  }
}

/**
 * The Tracking API's other calls (page, screen, group, alias): the same 501 as
 * when their type arrives on /v1/segment, not a 404 that reads like a wrong
 * base URL. Rare, so they stay on fastify behind the /v1 authentication hook.
 */
export async function unsupportedCallRoutes(app: FastifyInstance): Promise<void> {
  for (const type of UNSUPPORTED_TYPES) {
    app.post(`/v1/${type}`, (_request, reply) => reply.code(501).send({ message: unsupportedCallMessage(type) }));
  }
  // Someone opening an ingest URL in a browser, or a client set to the wrong method: the path is
  // right, which a 404 "no route GET /v1/track" would leave them doubting.
  for (const route of INGEST_ROUTES) {
    app.route({
      method: ['GET', 'PUT', 'PATCH', 'DELETE'],
      url: route,
      handler: (request, reply) => reply.code(405).header('allow', 'POST').send({ message: `${route} takes POST, not ${request.method}: send the Segment call as a JSON body` }),
    });
  }
}
