import { randomUUID } from 'node:crypto';
import type { Kafka } from '@kana/platform';
import { DLQ_HEADERS } from '@kana/schemas';

/**
 * A message a consumer gave up on (platform's batch consumer, after retrying it
 * alone): the original key and value on the DLQ topic, with where it came from
 * and why in its headers. Nothing it held was counted or stored by that consumer.
 */
export interface DeadLetter {
  /** When it was dead-lettered (ISO UTC). */
  at: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  error: string;
  /** `accountId:userId` for events. */
  key: string;
  /** From the value, when it is a Kana envelope that can be read. */
  accountId?: string;
  messageId?: string;
  type?: string;
  /** Where it is on the DLQ topic. */
  partition: number;
  offset: string;
}

/**
 * The dead letters on `topic`, oldest first, at most `limit`. Reads each
 * partition from its start, up to its end as it was when called or `limit`
 * letters, with a consumer group of its own that commits nothing and is
 * deleted afterwards: the services' groups and the topic are left as they were.
 */
export async function readDeadLetters(kafka: Kafka, topic: string, options: { limit: number; timeoutMs?: number }): Promise<DeadLetter[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `kana-cli-dead-letters-${randomUUID()}`;
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    // Reading is done when the last letter of every partition was seen.
    const ends = await lastOffsets(admin, topic);
    if (ends.size === 0) return [];

    const letters: DeadLetter[] = [];
    // Each partition is in the order its letters were written: the oldest `limit` overall are among
    // the first `limit` of each, so a partition is done after that many (memory stays bounded).
    const taken = new Map<number, number>();
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    try {
      let finish: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) > end) return;
          letters.push(toDeadLetter(partition, message));
          taken.set(partition, (taken.get(partition) ?? 0) + 1);
          if (BigInt(message.offset) === end || taken.get(partition)! >= options.limit) ends.delete(partition);
          if (ends.size === 0) finish();
        },
      });
      const timeoutMs = options.timeoutMs ?? 30_000;
      await within(finished, timeoutMs, () => `read ${letters.length} dead letters of ${topic} in ${timeoutMs / 1000} s, not all of them: is Kafka slow or the topic very large?`);
    } finally {
      await consumer.disconnect();
    }
    return letters.sort((a, b) => a.at.localeCompare(b.at) || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))).slice(0, options.limit);
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

type Message = { key: Buffer | null; value: Buffer | null; timestamp: string; offset: string; headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined> };

function toDeadLetter(partition: number, message: Message): DeadLetter {
  const header = (name: string): string => {
    const value = message.headers?.[name];
    return value === undefined ? '' : (Array.isArray(value) ? value[0] : value)?.toString() ?? '';
  };
  return {
    at: new Date(Number(message.timestamp)).toISOString(),
    sourceTopic: header(DLQ_HEADERS.sourceTopic),
    sourcePartition: Number(header(DLQ_HEADERS.sourcePartition)),
    sourceOffset: header(DLQ_HEADERS.sourceOffset),
    error: header(DLQ_HEADERS.error),
    key: message.key?.toString() ?? '',
    ...envelopeOf(message.value),
    partition,
    offset: message.offset,
  };
}

/** accountId, messageId and type of a registry-encoded Kana envelope (magic byte, schema id, JSON); nothing when it is not one. */
function envelopeOf(value: Buffer | null): Pick<DeadLetter, 'accountId' | 'messageId' | 'type'> {
  if (!value || value.length < 6 || value[0] !== 0) return {};
  try {
    const parsed = JSON.parse(value.subarray(5).toString('utf8')) as { accountId?: unknown; event?: { messageId?: unknown; type?: unknown } };
    const text = (field: unknown) => (typeof field === 'string' ? field : undefined);
    const fields = { accountId: text(parsed.accountId), messageId: text(parsed.event?.messageId), type: text(parsed.event?.type) };
    return Object.fromEntries(Object.entries(fields).filter(([, field]) => field !== undefined));
  } catch {
    return {};
  }
}

/** The headers the DLQ adds, which a replayed message leaves behind. */
const DLQ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS));

/** The consumer group a replay of `topic` commits its progress with: each replay continues after the last one. */
export const replayGroup = (topic: string): string => `kana-dead-letters-replay.${topic}`;

export interface ReplayOutcome {
  /** Letters sent back to their source topic, by topic. */
  replayed: Record<string, number>;
  /** Letters without a source topic (not written by a Kana consumer), left where they are. */
  skipped: number;
}

/**
 * Sends every dead letter written since the last replay back to the topic it
 * came from, with its key, value and headers (without the DLQ's), acks=all,
 * then commits the DLQ position under replayGroup(topic); up to the topic's end as it
 * was when called. For after a fix: the consumers drop what they already
 * stored by (account, messageId), so a letter replayed twice counts once. A
 * letter that fails again is dead-lettered again, and the next replay takes it.
 */
export async function replayDeadLetters(kafka: Kafka, topic: string, options: { timeoutMs?: number } = {}): Promise<ReplayOutcome> {
  const outcome: ReplayOutcome = { replayed: {}, skipped: 0 };
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return outcome;
    const [committed] = await admin.fetchOffsets({ groupId: replayGroup(topic), topics: [topic] });
    const from = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, BigInt(offset)]));
    const ends = await lastOffsets(admin, topic, from);
    if (ends.size === 0) return outcome;

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: replayGroup(topic) });
    await Promise.all([producer.connect(), consumer.connect()]);
    try {
      let finish: (error?: unknown) => void = () => undefined;
      const finished = new Promise<void>((resolve, reject) => (finish = (error) => (error === undefined ? resolve() : reject(error))));
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset }) => {
          const end = ends.get(batch.partition);
          const letters = batch.messages.filter((message) => end !== undefined && BigInt(message.offset) <= end);
          if (letters.length === 0) return;
          try {
            const bySource = new Map<string, { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | string> }[]>();
            for (const message of letters) {
              const source = message.headers?.[DLQ_HEADERS.sourceTopic]?.toString();
              if (!source) {
                outcome.skipped++;
                continue;
              }
              const headers: Record<string, Buffer | string> = {};
              for (const [name, value] of Object.entries(message.headers ?? {})) {
                if (!DLQ_HEADER_NAMES.has(name) && value !== undefined) headers[name] = Array.isArray(value) ? value[0]! : value;
              }
              const replayed = { key: message.key, value: message.value, headers };
              const same = bySource.get(source);
              if (same) same.push(replayed);
              else bySource.set(source, [replayed]);
            }
            for (const [source, messages] of bySource) {
              await producer.send({ topic: source, acks: -1, messages });
              outcome.replayed[source] = (outcome.replayed[source] ?? 0) + messages.length;
            }
            const last = letters[letters.length - 1]!.offset;
            // Committed only once the source topics acknowledged: a replay stopped midway sends the rest next time.
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
            resolveOffset(last);
            if (BigInt(last) >= end!) ends.delete(batch.partition);
            if (ends.size === 0) finish();
          } catch (error) {
            finish(error);
            throw error;
          }
        },
      });
      const timeoutMs = options.timeoutMs ?? 60_000;
      await within(finished, timeoutMs, () => `replayed ${Object.values(outcome.replayed).reduce((a, b) => a + b, 0)} dead letters of ${topic} in ${timeoutMs / 1000} s, not all of them; run it again to go on`);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
    return outcome;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The last offset of each partition of `topic` that holds a letter at or after `from`, a committed
 * position per partition (none, or Kafka's -1 for "nothing committed", means from its start).
 */
async function lastOffsets(admin: ReturnType<Kafka['admin']>, topic: string, from = new Map<number, bigint>()): Promise<Map<number, bigint>> {
  const ends = new Map<number, bigint>();
  for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
    const start = from.get(partition) ?? -1n;
    if (BigInt(high) > (start < 0n ? BigInt(low) : start) && BigInt(high) > BigInt(low)) ends.set(partition, BigInt(high) - 1n);
  }
  return ends;
}

/** Waits for `done`, or fails with `message()` after `timeoutMs`. */
async function within(done: Promise<void>, timeoutMs: number, message: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([done, timedOut]).finally(() => clearTimeout(timer));
  if (outcome === 'timeout') throw new Error(message());
}
