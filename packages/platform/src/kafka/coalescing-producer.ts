import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors';
import type { Component } from '../lifecycle';
import { histogram, type Registry } from '../metrics';

export interface OutMessage {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface CoalescingProducerConfig {
  /** How long the first message of an idle producer waits for company. */
  lingerMs?: number;
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  /** A send that is not acknowledged within this bound rejects (the gateway answers 503). */
  ackTimeoutMs?: number;
  /** Messages waiting or in flight beyond this are refused at once instead of piling up while Kafka is down. */
  maxQueuedMessages?: number;
  /**
   * Produce requests in flight at once. kafkajs's idempotent producer numbers
   * its sequences per request and breaks with two requests in flight, so each
   * lane is its own idempotent producer with one request in flight. Order is
   * kept per lane, not across lanes: use 1 where per-key order matters.
   */
  lanes?: number;
}

interface Pending {
  topic: string;
  messages: OutMessage[];
  bytes: number;
  settled: boolean;
  resolve(): void;
  reject(error: Error): void;
  /** performance.now() past which the caller is answered that Kafka did not acknowledge in time. */
  deadline: number;
}

/**
 * kafkajs sends one produce request per `send()` and has no linger setting, so
 * a thousand concurrent HTTP requests would be a thousand round trips with
 * acks=all. This producer gathers sends for a few milliseconds (or while the
 * previous request is in flight) into one `sendBatch`, and resolves each
 * caller only when the broker acknowledged the batch holding its messages.
 *
 * Idempotent producer, acks=all, one request in flight: a retried request is
 * deduplicated by the broker and ordering per partition is kept.
 */
export class CoalescingProducer implements Component {
  readonly name = 'producer';
  private readonly lanes: Lane[];
  private readonly config: Required<CoalescingProducerConfig>;
  private pending: Pending[] = [];
  private pendingMessages = 0;
  private pendingBytes = 0;
  private inFlightMessages = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** The batches in flight, for the ack-timeout sweep. */
  private readonly inFlightBatches = new Set<Pending[]>();
  /**
   * One timer for every send's ack timeout, rather than a setTimeout and clearTimeout per send
   * (~0.4 us each, once per gateway request): it runs while anything is waiting or in flight.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  private stopped = false;
  private readonly batchSize;
  private readonly ackSeconds;

  constructor(
    config: CoalescingProducerConfig,
    private readonly deps: { kafka: Kafka; logger: Logger; metrics: Registry },
  ) {
    this.config = {
      lanes: config.lanes ?? 1,
      lingerMs: config.lingerMs ?? 2,
      maxBatchMessages: config.maxBatchMessages ?? 2_000,
      // Below the broker's default message.max.bytes (1 MiB): a larger request is refused every time.
      maxBatchBytes: config.maxBatchBytes ?? 768 * 1024,
      ackTimeoutMs: config.ackTimeoutMs ?? 5_000,
      maxQueuedMessages: config.maxQueuedMessages ?? 50_000,
    };
    // A timed-out send is answered at most this much after its bound.
    this.sweepMs = Math.max(5, Math.min(100, Math.floor(this.config.ackTimeoutMs / 20)));
    const producerOptions = {
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2 partitioning: the same key lands on the same partition for any client.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded retries (kafkajs warns this weakens its exactly-once claim): a request whose
      // outcome is unknown is answered 503, Segment retries it, and every consumer
      // deduplicates by messageId. Unbounded retries would instead hold the one in-flight
      // slot for the whole outage and make stop() hang.
      retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 5 },
    };
    this.lanes = Array.from({ length: this.config.lanes }, () => ({ producer: deps.kafka.producer(producerOptions), inFlight: undefined }));
    this.batchSize = histogram(deps.metrics, {
      name: 'kana_producer_batch_messages',
      help: 'Messages per coalesced produce request',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    });
    this.ackSeconds = histogram(deps.metrics, {
      name: 'kana_producer_ack_seconds',
      help: 'Time from send() to the acks=all acknowledgement',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.producer.connect()));
  }

  send(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const chunks = this.chunk(messages);
    if (chunks.length > 1) return Promise.all(chunks.map((chunk) => this.send(topic, chunk))).then(() => undefined);
    if (this.stopped) return Promise.reject(new UnavailableError('producer is stopping'));
    if (this.pendingMessages + this.inFlightMessages + messages.length > this.config.maxQueuedMessages) {
      return Promise.reject(new UnavailableError('Kafka is not keeping up: produce backlog is full'));
    }
    const started = process.hrtime.bigint();
    return new Promise<void>((resolve, reject) => {
      const item: Pending = {
        topic,
        messages,
        bytes: messages.reduce((sum, message) => sum + message.value.length + Buffer.byteLength(message.key), 0),
        settled: false,
        resolve: () => {
          this.ackSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
          resolve();
        },
        reject,
        deadline: performance.now() + this.config.ackTimeoutMs,
      };
      this.pending.push(item);
      this.pendingMessages += messages.length;
      this.pendingBytes += item.bytes;
      this.sweepTimer ??= setTimeout(() => this.sweep(), this.sweepMs);
      this.schedule();
    });
  }

  /** Splits one large send so that no produce request exceeds the batch bounds the broker accepts. */
  private chunk(messages: OutMessage[]): OutMessage[][] {
    const chunks: OutMessage[][] = [];
    let current: OutMessage[] = [];
    let bytes = 0;
    for (const message of messages) {
      const size = message.value.length + Buffer.byteLength(message.key);
      if (current.length > 0 && (bytes + size > this.config.maxBatchBytes || current.length >= this.config.maxBatchMessages)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(message);
      bytes += size;
    }
    chunks.push(current);
    return chunks;
  }

  /**
   * Answers every send past its deadline, waiting or in flight. The batch may still be written
   * later; the caller must treat the outcome as unknown (the gateway answers 503 and Segment
   * retries, and the messageId makes that retry harmless downstream).
   */
  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    const expire = (item: Pending) => {
      if (!item.settled && now >= item.deadline) settle(item, new UnavailableError(`Kafka did not acknowledge within ${this.config.ackTimeoutMs} ms`));
    };
    this.pending.forEach(expire);
    for (const batch of this.inFlightBatches) batch.forEach(expire);
    if (this.pending.length > 0 || this.inFlightBatches.size > 0) this.sweepTimer = setTimeout(() => this.sweep(), this.sweepMs);
  }

  private freeLane(): Lane | undefined {
    return this.lanes.find((lane) => !lane.inFlight);
  }

  private schedule(): void {
    if (this.pending.length === 0 || !this.freeLane()) return;
    const full = this.pendingMessages >= this.config.maxBatchMessages || this.pendingBytes >= this.config.maxBatchBytes;
    if (full || this.stopped) {
      this.flush();
    } else {
      this.lingerTimer ??= setTimeout(() => this.flush(), this.config.lingerMs);
    }
  }

  private flush(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const lane = this.freeLane();
    if (!lane || this.pending.length === 0) return;

    const batch: Pending[] = [];
    let count = 0;
    let bytes = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (next.settled) {
        // Its caller already got a timeout; sending it now would only make a duplicate.
        this.pending.shift();
        this.pendingMessages -= next.messages.length;
        this.pendingBytes -= next.bytes;
        continue;
      }
      if (batch.length > 0 && (count + next.messages.length > this.config.maxBatchMessages || bytes + next.bytes > this.config.maxBatchBytes)) break;
      this.pending.shift();
      count += next.messages.length;
      bytes += next.bytes;
      batch.push(next);
    }
    this.pendingMessages -= count;
    this.pendingBytes -= bytes;
    if (batch.length === 0) return;
    this.inFlightMessages += count;
    this.inFlightBatches.add(batch);
    this.batchSize.observe(count);

    const byTopic = new Map<string, Message[]>();
    for (const item of batch) {
      const list = byTopic.get(item.topic) ?? [];
      for (const message of item.messages) list.push(message);
      byTopic.set(item.topic, list);
    }
    lane.inFlight = lane.producer
      .sendBatch({
        acks: -1,
        timeout: this.config.ackTimeoutMs,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      })
      .then(
        () => batch.forEach((item) => settle(item)),
        (error: unknown) => {
          this.deps.logger.warn({ err: error, messages: count }, 'produce failed');
          batch.forEach((item) => settle(item, new UnavailableError('Kafka is unavailable', error)));
        },
      )
      .finally(() => {
        this.inFlightMessages -= count;
        this.inFlightBatches.delete(batch);
        lane.inFlight = undefined;
        // Whatever queued up meanwhile has already waited a round trip: send it now.
        if (this.pending.length > 0) this.flush();
      });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    while (this.pending.length > 0 || this.lanes.some((lane) => lane.inFlight)) {
      this.flush();
      await Promise.race(this.lanes.map((lane) => lane.inFlight).filter(Boolean));
    }
    await Promise.all(this.lanes.map((lane) => lane.producer.disconnect()));
  }
}

interface Lane {
  producer: Producer;
  inFlight: Promise<void> | undefined;
}

function settle(item: Pending, error?: Error): void {
  if (item.settled) return;
  item.settled = true;
  if (error) item.reject(error);
  else item.resolve();
}
