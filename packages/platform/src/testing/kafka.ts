import { Kafka, logLevel } from 'kafkajs';
import type { EncodedTopic, EventCodec, TopicValue } from '@kana/schemas';
import { STACK, uniqueId, waitFor } from './env';

export interface ReadMessage<T> {
  key: string | null;
  value: T;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning with a throwaway consumer group until
 * `until(messages)` holds, then returns everything read. Values are decoded
 * with the codec, so a test sees exactly what a consumer would.
 */
export async function readTopic<K extends EncodedTopic>(
  codec: EventCodec,
  topic: K,
  until: (messages: ReadMessage<TopicValue<K>>[]) => boolean,
  options: { brokers?: string[]; timeoutMs?: number } = {},
): Promise<ReadMessage<TopicValue<K>>[]> {
  const kafka = new Kafka({ brokers: options.brokers ?? STACK.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, clientId: 'test-reader' });
  const consumer = kafka.consumer({ groupId: uniqueId('reader-') });
  const messages: ReadMessage<TopicValue<K>>[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: codec.topicName(topic), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        messages.push({
          key: message.key?.toString() ?? null,
          value: await codec.decode(topic, message.value),
          partition,
          offset: message.offset,
          headers,
        });
      },
    });
    await waitFor(() => until(messages), { timeoutMs: options.timeoutMs ?? 30_000, what: `messages on ${codec.topicName(topic)}` });
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Raw reader for topics without a schema (the DLQ). */
export async function readRawTopic(
  topicName: string,
  until: (messages: ReadMessage<Buffer | null>[]) => boolean,
  options: { brokers?: string[]; timeoutMs?: number } = {},
): Promise<ReadMessage<Buffer | null>[]> {
  const kafka = new Kafka({ brokers: options.brokers ?? STACK.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, clientId: 'test-reader' });
  const consumer = kafka.consumer({ groupId: uniqueId('reader-') });
  const messages: ReadMessage<Buffer | null>[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topicName, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        messages.push({ key: message.key?.toString() ?? null, value: message.value, partition, offset: message.offset, headers });
      },
    });
    await waitFor(() => until(messages), { timeoutMs: options.timeoutMs ?? 30_000, what: `messages on ${topicName}` });
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Deletes every topic whose name starts with the test's prefix. */
export async function deleteTopicsWithPrefix(prefix: string, brokers = STACK.KAFKA_BROKERS.split(',')): Promise<void> {
  if (!prefix) throw new Error('refusing to delete topics without a prefix');
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: 'test-cleanup' }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
