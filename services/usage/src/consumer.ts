import { userKey, type EventCodec, type EncodedTopic, type IdentityChange, type ReprocessMessage, type TopicValue, type TrackMessage } from '@kana/schemas';
import { counter, histogram, type BatchResult, type ConsumedMessage, type CoalescingProducer, type Logger, type Registry } from '@kana/platform';

import { planBatch, snapshotNeeds, type Incoming } from './domain/batch';
import { buildOutputs } from './domain/outputs';
import type { PgUsageStore } from './adapters/pg-usage-store';
import type { PgUserAliases } from './adapters/pg-user-aliases';
import type { RuleSnapshots } from './adapters/redis-rule-snapshots';

export interface UsageHandlerDeps {
  snapshots: RuleSnapshots;
  store: PgUsageStore;
  aliases: PgUserAliases;
  producer: CoalescingProducer;
  codec: EventCodec;
  logger: Logger;
  metrics: Registry;
  share: ReplayShare;
}

/**
 * How many reprocess batches may be handled at once. The reprocess consumer
 * runs as many partitions at a time as the live one; while live traffic is
 * being handled (a live batch in flight or finished within `liveQuietMs`) a
 * replay gets at most half of them, and its other batches wait before
 * starting. So a replay of millions of events never takes more than half of
 * this process's thread and pool from live traffic, and an idle live path
 * does not halve the replay.
 */
export class ReplayShare {
  private liveInFlight = 0;
  private liveSeenAt = -Infinity;
  private replayInFlight = 0;

  constructor(private readonly config: { slots: number; liveQuietMs: number }) {}

  async live<T>(work: () => Promise<T>): Promise<T> {
    this.liveInFlight++;
    this.liveSeenAt = Date.now();
    try {
      return await work();
    } finally {
      this.liveInFlight--;
      this.liveSeenAt = Date.now();
    }
  }

  async replay<T>(work: () => Promise<T>, heartbeat?: () => Promise<void>): Promise<T> {
    let beatAt = Date.now();
    while (this.replayInFlight >= this.replayLimit()) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      // A batch may wait a while for a slot: stay in the group meanwhile.
      if (heartbeat && Date.now() - beatAt > 2_000) {
        await heartbeat();
        beatAt = Date.now();
      }
    }
    this.replayInFlight++;
    try {
      return await work();
    } finally {
      this.replayInFlight--;
    }
  }

  private replayLimit(): number {
    const liveActive = this.liveInFlight > 0 || Date.now() - this.liveSeenAt < this.config.liveQuietMs;
    return liveActive ? Math.max(1, Math.floor(this.config.slots / 2)) : this.config.slots;
  }
}

/**
 * The batch handlers of the usage service. Order within one batch, and what a
 * crash between two steps causes:
 *   1. rules snapshots (one Redis script call; rules service on a miss) — nothing written yet;
 *   2. one Postgres transaction storing events and records — a crash before
 *      the commit leaves nothing, the batch is replayed;
 *   3. produce records / unmapped / reprocessed outcomes (acks=all) — a crash
 *      here or before it replays the batch; step 2 then finds every row
 *      already stored and step 3 produces the same messages again (same ids);
 *   4. the platform commits offsets after this handler resolves.
 * Any thrown error means "retry the batch", which the unique keys make safe.
 */
export class UsageHandlers {
  private readonly outcomes;
  private readonly stepSeconds;

  constructor(private readonly deps: UsageHandlerDeps) {
    this.outcomes = counter(deps.metrics, {
      name: 'kana_usage_events_total',
      help: 'Track events handled, by source and outcome',
      labelNames: ['source', 'outcome'],
    });
    this.stepSeconds = histogram(deps.metrics, {
      name: 'kana_usage_batch_step_seconds',
      help: 'Time per step of a batch: where a slow batch spends it',
      labelNames: ['step'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
  }

  readonly onTrack = (messages: ConsumedMessage<TrackMessage>[]): Promise<BatchResult> => this.deps.share.live(() => this.handle('track', messages));

  readonly onReprocess = (messages: ConsumedMessage<ReprocessMessage>[], context?: { heartbeat(): Promise<void> }): Promise<BatchResult> =>
    this.deps.share.replay(() => this.handle('reprocess', messages), context?.heartbeat);

  readonly onIdentityChanges = async (messages: ConsumedMessage<IdentityChange>[]): Promise<BatchResult> => {
    const applied = await this.deps.aliases.applyChanges(messages.map((message) => message.value));
    if (applied > 0) this.deps.logger.info({ changes: applied }, 'merges and deletions applied');
  };

  private async handle(source: 'track' | 'reprocess', messages: ConsumedMessage<TrackMessage | ReprocessMessage>[]): Promise<BatchResult> {
    // A consumed message is an Incoming (offset, value): no copy per message.
    const incoming = messages as readonly Incoming[];
    const timer = this.stepSeconds.startTimer({ step: 'rules' });
    const snapshots = await this.deps.snapshots.forBatch(snapshotNeeds(incoming));
    timer();
    const { planned, deadLetters } = planBatch(source, incoming, snapshots);
    const write = this.stepSeconds.startTimer({ step: 'postgres' });
    const stored = await this.deps.store.writeBatch(planned);
    write();
    const outputs = buildOutputs(planned, stored);

    const produce = this.stepSeconds.startTimer({ step: 'produce' });
    await Promise.all([
      this.produce('usageRecords', outputs.usageRecords, (record) => userKey(record.accountId, record.userId)),
      this.produce('unmapped', outputs.unmapped, (message) => userKey(message.accountId, message.event.userId)),
      this.produce('reprocessed', outputs.reprocessed, (_, i) => outputs.reprocessedKeys[i]!),
    ]);
    produce();

    let duplicate = 0;
    let mapped = 0;
    for (const state of stored) {
      if (state.status === 'existing') duplicate++;
      else if (state.mapped) mapped++;
    }
    const unmapped = stored.length - duplicate - mapped;
    if (duplicate > 0) this.outcomes.inc({ source, outcome: 'duplicate' }, duplicate);
    if (mapped > 0) this.outcomes.inc({ source, outcome: 'mapped' }, mapped);
    if (unmapped > 0) this.outcomes.inc({ source, outcome: 'unmapped' }, unmapped);
    for (const letter of deadLetters) this.deps.logger.error({ source, offset: letter.offset, reason: letter.reason }, 'track event refused');
    return { deadLetters };
  }

  private async produce<K extends EncodedTopic>(topic: K, values: TopicValue<K>[], keyOf: (value: TopicValue<K>, index: number) => string): Promise<void> {
    if (values.length === 0) return;
    // encodeParsedMany: no second JSON Schema validation. Every output is built here from values that passed the
    // zod schemas the registered JSON Schemas derive from (decoded messages, snapshot ids, stored rows), and
    // validating them again was most of the encode time (26 s of a 1M-event replay).
    const encode = this.stepSeconds.startTimer({ step: 'encode' });
    const encoded = this.deps.codec.encodeParsedMany(topic, values);
    const messages = values.map((value, i) => ({ key: keyOf(value, i), value: encoded[i]! }));
    encode();
    const name = this.deps.codec.topicName(topic);
    await Promise.all(chunkBySize(messages, MAX_SEND_BYTES).map((chunk) => this.deps.producer.send(name, chunk)));
  }
}

/**
 * The producer sends one send() call whole, and the broker refuses a request
 * above its message.max.bytes (1 MB by default) every time, which would retry
 * the batch forever; a big batch's outputs are therefore sent in slices.
 */
const MAX_SEND_BYTES = 512 * 1024;

function chunkBySize<T extends { key: string; value: Buffer }>(messages: T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = message.key.length + message.value.length;
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= 1_000)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
