import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { DLQ_HEADERS, DecodeError, UNKNOWN_SCHEMA_ID, type EncodedTopic, type EventCodec, type TopicValue } from '@kana/schemas';
import { isRetriable } from '../errors';
import type { Component } from '../lifecycle';
import { counter, gauge, type Registry } from '../metrics';
import type { CoalescingProducer } from './coalescing-producer';

export interface ConsumedMessage<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
  timestamp: string;
  headers: Record<string, string>;
}

export interface DeadLetter {
  offset: string;
  reason: string;
}

export type BatchResult = void | { deadLetters?: DeadLetter[] };

export type BatchHandler<T> = (
  messages: ConsumedMessage<T>[],
  context: { partition: number; heartbeat(): Promise<void> },
) => Promise<BatchResult>;

export interface BatchConsumerConfig<K extends EncodedTopic> {
  groupId: string;
  topic: K;
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
  /**
   * Bytes of one fetch request over all partitions (kafkajs default 10 MB). kafkajs hands a fetch's batches to
   * the partitions in flight and fetches again only when every one of them is handled, so a fetch that fills
   * only some partitions leaves the others idle for the round.
   */
  maxBytes?: number;
  /** Cap of the retry backoff while a retriable error (database down, no rules snapshot) persists. */
  maxBackoffMs?: number;
  /**
   * How long the consumer may show no sign of life (no fetch, heartbeat, group join or handled
   * batch) before it is thrown away and a fresh one joins the group. Above the session timeout,
   * so an ordinary rebalance or a long batch that heartbeats never trips it.
   */
  stallTimeoutMs?: number;
}

export interface BatchConsumerDeps {
  kafka: Kafka;
  codec: EventCodec;
  producer: CoalescingProducer;
  logger: Logger;
  metrics: Registry;
}

/**
 * Runs a handler once per fetched batch of one partition and commits the
 * batch's offsets only after the handler (and the dead letters) succeeded.
 *
 * Commit order and what a crash between two steps causes:
 *   decode → handler (writes Postgres, produces outputs) → dead letters → commit offsets.
 * A crash before the commit replays the whole batch, so handlers must be
 * idempotent (unique keys absorb the replay). Nothing is committed that was
 * not handled.
 *
 * The error decides what happens: a retriable error retries the same batch
 * with backoff for as long as the consumer runs (the dependency will return);
 * any other error is treated as a poison message: the batch is retried one
 * message at a time and the messages that still fail go to the DLQ, so one
 * bad message never blocks its partition.
 */
export class BatchConsumer<K extends EncodedTopic> implements Component {
  readonly name: string;
  private consumer: Consumer;
  private readonly log: Logger;
  private running = false;
  private stopping: Promise<void> | undefined;
  private crashed: Error | undefined;
  private member = false;
  /** The current consumer's run(): settles once it has joined its group (or its start crashed). */
  private joining: Promise<void> = Promise.resolve();
  private lastAlive = Date.now();
  private watchdog: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;
  private readonly processed;
  private readonly rebuilds;
  private readonly joinedGauge;

  constructor(
    private readonly config: BatchConsumerConfig<K>,
    private readonly deps: BatchConsumerDeps,
    private readonly handler: BatchHandler<TopicValue<K>>,
  ) {
    this.name = `consumer:${config.topic}`;
    this.log = deps.logger.child({ component: this.name, groupId: config.groupId });
    this.processed = counter(deps.metrics, {
      name: 'kana_consumer_messages_total',
      help: 'Messages handled and committed',
      labelNames: ['topic', 'outcome'],
    });
    this.rebuilds = counter(deps.metrics, {
      name: 'kana_consumer_rebuilds_total',
      help: 'Consumers thrown away and replaced after a crash kafkajs does not restart from, or a stall',
      labelNames: ['topic', 'reason'],
    });
    this.joinedGauge = gauge(deps.metrics, {
      name: 'kana_consumer_joined',
      help: '1 while the consumer is a member of its group; 0 while it waits to join (after a start, a crash or a replacement) or is stopped',
      labelNames: ['topic'],
    });
    this.consumer = this.createConsumer();
    this.setMember(false);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.runConsumer(this.consumer);
    const stallTimeoutMs = this.config.stallTimeoutMs ?? 90_000;
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastAlive > stallTimeoutMs) this.rebuild(`no fetch, heartbeat or batch for ${stallTimeoutMs} ms`, 'stall');
    }, Math.min(5_000, stallTimeoutMs / 3));
    this.watchdog.unref();
  }

  /** Finishes the batch in flight (and commits it), then leaves the group. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      clearInterval(this.watchdog);
      await this.rebuilding;
      // kafkajs cannot stop a consumer that is still joining: it would go on joining, on a
      // reconnected client, and consume after its stop. Let the join end first (bounded: one
      // waiting out a dead member's session is abandoned, the process is ending anyway).
      await withTimeout(this.joining, 15_000).catch(() => this.log.warn('stopping a consumer that has not joined its group yet'));
      await this.consumer.disconnect();
      this.setMember(false);
    })();
    return this.stopping;
  }

  healthy(): boolean {
    return this.running && this.crashed === undefined && this.rebuilding === undefined;
  }

  /** True once the current consumer has joined its group (false while it waits to join, e.g. after a crash). */
  get joined(): boolean {
    return this.member;
  }

  private createConsumer(): Consumer {
    const consumer = this.deps.kafka.consumer({
      groupId: this.config.groupId,
      maxBytesPerPartition: this.config.maxBytesPerPartition ?? 4 * 1024 * 1024,
      ...(this.config.maxBytes !== undefined && { maxBytes: this.config.maxBytes }),
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
    });
    const alive = () => {
      if (consumer === this.consumer) this.lastAlive = Date.now();
    };
    const { CRASH, GROUP_JOIN, FETCH_START, HEARTBEAT, END_BATCH_PROCESS } = consumer.events;
    for (const event of [FETCH_START, HEARTBEAT, END_BATCH_PROCESS]) consumer.on(event, alive);
    consumer.on(GROUP_JOIN, () => {
      if (consumer !== this.consumer) return;
      this.setMember(true);
      alive();
      this.crashed = undefined;
    });
    consumer.on(CRASH, ({ payload }) => {
      if (consumer !== this.consumer) return;
      this.setMember(false);
      this.crashed = payload.error;
      this.log.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      // kafkajs restarts after retriable errors; after any other it leaves the consumer dead.
      if (!payload.restart) this.rebuild(`crash kafkajs does not restart from: ${payload.error.message}`, 'crash');
    });
    return consumer;
  }

  private setMember(member: boolean): void {
    this.member = member;
    this.joinedGauge.set({ topic: this.config.topic }, member ? 1 : 0);
  }

  private async runConsumer(consumer: Consumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic: this.deps.codec.topicName(this.config.topic), fromBeginning: true });
    this.lastAlive = Date.now();
    // run() resolves once the group is joined. After a crash that is when the coordinator gives up
    // on the dead member (its 30 s session): the service's start (its HTTP API, which needs no
    // consumer) does not wait for that. A join that fails reaches the CRASH handler above.
    this.joining = consumer
      .run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.config.partitionsConsumedConcurrently ?? 3,
        eachBatch: (payload) => this.onBatch(consumer, payload),
      })
      .catch((error: unknown) => {
        if (consumer !== this.consumer) return;
        this.log.error({ err: error }, 'consumer did not start');
        this.rebuild(`consumer did not start: ${(error as Error).message}`, 'crash');
      });
  }

  /**
   * Replaces a consumer that is dead or stuck with a fresh one (new connections, new member
   * of the group). Its uncommitted batch is delivered again to whoever gets the partition,
   * which handlers absorb (they are idempotent), so nothing is lost or counted twice.
   */
  private rebuild(reason: string, kind: 'crash' | 'stall'): void {
    if (!this.running || this.rebuilding) return;
    this.log.error({ reason }, 'replacing the consumer');
    this.rebuilds.inc({ topic: this.config.topic, reason: kind });
    const old = this.consumer;
    this.consumer = this.createConsumer();
    this.setMember(false);
    this.rebuilding = (async () => {
      // A stuck consumer may never finish disconnecting; don't wait for it forever.
      await withTimeout(old.disconnect(), 15_000).catch((error) => this.log.warn({ err: error }, 'old consumer did not disconnect cleanly'));
      for (let attempt = 0; this.running; attempt++) {
        try {
          await this.runConsumer(this.consumer);
          this.log.info('replacement consumer started; it consumes once it has joined the group');
          return;
        } catch (error) {
          this.log.warn({ err: error, attempt }, 'replacement consumer could not start; retrying');
          await this.consumer.disconnect().catch(() => undefined);
          this.consumer = this.createConsumer();
          await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
        }
      }
    })().finally(() => {
      this.rebuilding = undefined;
      this.lastAlive = Date.now();
    });
  }

  private async onBatch(consumer: Consumer, { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const decoded: ConsumedMessage<TopicValue<K>>[] = [];
    const deadLetters: DeadLetter[] = [];
    // One synchronous pass (no promise per message); only messages whose schema id the registry has not
    // confirmed yet wait for it, all together, and are put back in offset order.
    // A message that cannot be decoded goes to the DLQ; any other error fails the batch.
    const refuse = (message: KafkaMessage, error: unknown) => {
      if (!(error instanceof DecodeError)) throw error;
      deadLetters.push({ offset: message.offset, reason: error.message });
    };
    const unconfirmed: KafkaMessage[] = [];
    for (const message of batch.messages) {
      try {
        const value = this.deps.codec.decodeKnown(this.config.topic, message.value);
        if (value === UNKNOWN_SCHEMA_ID) unconfirmed.push(message);
        else decoded.push(toConsumed(topic, partition, message, value));
      } catch (error) {
        refuse(message, error);
      }
    }
    if (unconfirmed.length > 0) {
      await Promise.all(
        unconfirmed.map(async (message) => {
          try {
            decoded.push(toConsumed(topic, partition, message, await this.deps.codec.decode(this.config.topic, message.value)));
          } catch (error) {
            refuse(message, error);
          }
        }),
      );
      decoded.sort((a, b) => compareOffsets(a.offset, b.offset));
    }

    const context = { partition, heartbeat };
    const keepGoing = () => isRunning() && !isStale();
    if (decoded.length > 0) {
      const result = await this.handleWithRetry(decoded, context, keepGoing);
      if (result === 'stopped') return;
      deadLetters.push(...result);
    }
    if (deadLetters.length > 0) await this.sendToDlq(topic, partition, batch.messages, deadLetters);

    const last = batch.messages[batch.messages.length - 1]!.offset;
    resolveOffset(last);
    await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
    this.processed.inc({ topic: this.config.topic, outcome: 'ok' }, batch.messages.length - deadLetters.length);
  }

  private async handleWithRetry(
    messages: ConsumedMessage<TopicValue<K>>[],
    context: { partition: number; heartbeat(): Promise<void> },
    keepGoing: () => boolean,
  ): Promise<DeadLetter[] | 'stopped'> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.handler(messages, context);
        return (result && result.deadLetters) || [];
      } catch (error) {
        if (!keepGoing()) return 'stopped';
        if (!isRetriable(error) && attempt >= 1) return this.isolatePoison(messages, context, keepGoing, error);
        const backoff = Math.min(this.config.maxBackoffMs ?? 5_000, 100 * 2 ** Math.min(attempt, 10));
        this.log.warn({ err: error, attempt, backoffMs: backoff, messages: messages.length }, 'batch failed; retrying');
        await sleep(backoff);
        await context.heartbeat();
      }
    }
  }

  /** Replays a failing batch one message at a time; what still fails non-retriably is dead-lettered. */
  private async isolatePoison(
    messages: ConsumedMessage<TopicValue<K>>[],
    context: { partition: number; heartbeat(): Promise<void> },
    keepGoing: () => boolean,
    batchError: unknown,
  ): Promise<DeadLetter[] | 'stopped'> {
    this.log.error({ err: batchError, messages: messages.length }, 'batch keeps failing; isolating the poison message');
    const deadLetters: DeadLetter[] = [];
    for (const message of messages) {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await this.handler([message], context);
          deadLetters.push(...((result && result.deadLetters) || []));
          break;
        } catch (error) {
          if (!keepGoing()) return 'stopped';
          if (!isRetriable(error)) {
            deadLetters.push({ offset: message.offset, reason: `handler failed: ${(error as Error).message}` });
            break;
          }
          await sleep(Math.min(this.config.maxBackoffMs ?? 5_000, 100 * 2 ** Math.min(attempt, 10)));
          await context.heartbeat();
        }
      }
    }
    return deadLetters;
  }

  private async sendToDlq(topic: string, partition: number, messages: KafkaMessage[], deadLetters: DeadLetter[]): Promise<void> {
    const byOffset = new Map(messages.map((message) => [message.offset, message]));
    await this.deps.producer.send(
      this.deps.codec.topicName('dlq'),
      deadLetters.map(({ offset, reason }) => {
        const original = byOffset.get(offset);
        this.log.warn({ topic, partition, offset, reason }, 'message sent to the DLQ');
        return {
          key: original?.key?.toString() ?? '',
          value: original?.value ?? Buffer.alloc(0),
          headers: {
            [DLQ_HEADERS.sourceTopic]: topic,
            [DLQ_HEADERS.sourcePartition]: String(partition),
            [DLQ_HEADERS.sourceOffset]: offset,
            [DLQ_HEADERS.error]: reason.slice(0, 1000),
          },
        };
      }),
    );
    this.processed.inc({ topic: this.config.topic, outcome: 'dlq' }, deadLetters.length);
  }
}

function toConsumed<T>(topic: string, partition: number, message: KafkaMessage, value: T): ConsumedMessage<T> {
  const headers: Record<string, string> = {};
  const raw = message.headers;
  if (raw) {
    for (const name of Object.keys(raw)) {
      const header = raw[name];
      if (header !== undefined) headers[name] = Array.isArray(header) ? String(header[0]) : String(header);
    }
  }
  return { topic, partition, offset: message.offset, key: message.key?.toString() ?? null, value, timestamp: message.timestamp, headers };
}

function compareOffsets(a: string, b: string): number {
  const diff = BigInt(a) - BigInt(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
