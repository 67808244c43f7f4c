import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { deleteTopicsWithPrefix, readRawTopic, STACK, uniqueId } from '@kana/platform/testing';
import { DLQ_HEADERS } from '@kana/schemas';

// `kana dead-letters list` as an operator runs it, against a DLQ topic of this test's own.

const prefix = `${uniqueId('dl')}.`;
const topic = `${prefix}kana.dlq`;
const kafka = new Kafka({ brokers: STACK.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, clientId: 'dead-letters-test' });

async function kana(...args: string[]): Promise<{ topic: string; deadLetters: Record<string, unknown>[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), 'dead-letters', 'list', ...args, '--json'], {
    env: { PATH: process.env.PATH ?? '', KAFKA_BROKERS: STACK.KAFKA_BROKERS, TOPIC_PREFIX: prefix },
  });
  return JSON.parse(stdout);
}

afterAll(() => deleteTopicsWithPrefix(prefix), 60_000);
jest.setTimeout(60_000);

it('says there are none while the DLQ topic does not exist', async () => {
  expect(await kana()).toEqual({ topic, deadLetters: [] });
});

it('lists what consumers dead-lettered, oldest first, with where it came from, why, and the event it held', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  // As the batch consumer writes them: the original key and registry-encoded value, the source in headers.
  const envelope = (messageId: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from(JSON.stringify({ schemaVersion: 1, accountId: 'acc_1', event: { type: 'track', messageId, userId: 'u-1' } }))]);
  const letter = (partition: number, offset: number, value: Buffer, error: string, timestamp: number) => ({
    partition,
    key: 'acc_1:u-1',
    value,
    timestamp: String(timestamp),
    headers: { [DLQ_HEADERS.sourceTopic]: `${prefix}kana.segment.track`, [DLQ_HEADERS.sourcePartition]: '2', [DLQ_HEADERS.sourceOffset]: String(offset), [DLQ_HEADERS.error]: error },
  });
  const t0 = Date.parse('2026-11-29T10:00:00Z');
  // Written in another order than their times, on three partitions: listed by time across them.
  await producer.send({ topic, messages: [letter(0, 7, envelope('m-2'), 'handler failed: store unmapped events: index row size', t0 + 1000)] });
  await producer.send({ topic, messages: [letter(1, 5, envelope('m-1'), 'handler failed: unsupported Unicode escape sequence', t0)] });
  await producer.send({ topic, messages: [letter(2, 9, Buffer.from('not an envelope'), 'cannot decode: unknown magic byte', t0 + 2000)] });
  await producer.send({ topic, messages: [letter(1, 6, envelope('m-3'), 'handler failed: unsupported Unicode escape sequence', t0 + 3000)] });
  await producer.disconnect();

  const { deadLetters } = await kana();
  expect(deadLetters).toEqual([
    expect.objectContaining({ at: '2026-11-29T10:00:00.000Z', sourceTopic: `${prefix}kana.segment.track`, sourcePartition: 2, sourceOffset: '5', error: 'handler failed: unsupported Unicode escape sequence', key: 'acc_1:u-1', accountId: 'acc_1', messageId: 'm-1', type: 'track' }),
    expect.objectContaining({ at: '2026-11-29T10:00:01.000Z', sourceOffset: '7', messageId: 'm-2' }),
    expect.objectContaining({ at: '2026-11-29T10:00:02.000Z', sourceOffset: '9', error: 'cannot decode: unknown magic byte', key: 'acc_1:u-1' }),
    expect.objectContaining({ at: '2026-11-29T10:00:03.000Z', sourceOffset: '6', messageId: 'm-3' }),
  ]);
  expect(deadLetters[2]).not.toHaveProperty('messageId');
  expect((await kana('--limit', '1')).deadLetters.map((dead) => dead.messageId)).toEqual(['m-1']);
  expect((await kana('--limit', '2')).deadLetters.map((dead) => dead.messageId)).toEqual(['m-1', 'm-2']);

  // Reading committed nothing and left no consumer group behind.
  const groups = await kafka.admin();
  await groups.connect();
  const left = (await groups.listGroups()).groups.filter((group) => group.groupId.startsWith('kana-cli-dead-letters-'));
  await groups.disconnect();
  expect(left).toEqual([]);
});

it('replays the letters not yet replayed to their source topics, once each, and leaves the ones without a source', async () => {
  const dlq = `${prefix}replay.kana.dlq`;
  const source = `${prefix}replay.kana.segment.track`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${prefix}replay.kana.dlq`, numPartitions: 3 }, { topic: source, numPartitions: 3 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const letter = (value: string, from?: string) => ({
    key: `acc_1:${value}`,
    value,
    headers: { 'x-origin': 'kept', ...(from ? { [DLQ_HEADERS.sourceTopic]: from, [DLQ_HEADERS.sourcePartition]: '0', [DLQ_HEADERS.sourceOffset]: '1', [DLQ_HEADERS.error]: 'handler failed' } : {}) },
  });
  await producer.send({ topic: dlq, messages: [letter('one', source), letter('two', source), letter('stray')] });

  const replay = async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), 'dead-letters', 'replay', '--json'], {
      env: { PATH: process.env.PATH ?? '', KAFKA_BROKERS: STACK.KAFKA_BROKERS, TOPIC_PREFIX: `${prefix}replay.` },
    });
    return JSON.parse(stdout);
  };
  expect(await replay()).toEqual({ topic: dlq, replayed: { [source]: 2 }, skipped: 1 });
  // Each replay continues after the last one.
  expect(await replay()).toEqual({ topic: dlq, replayed: {}, skipped: 0 });
  await producer.send({ topic: dlq, messages: [letter('three', source)] });
  expect(await replay()).toEqual({ topic: dlq, replayed: { [source]: 1 }, skipped: 0 });
  await producer.disconnect();

  const back = await readRawTopic(source, (all) => all.length >= 3, { brokers: STACK.KAFKA_BROKERS.split(',') });
  expect(back.map((message) => [message.key, message.value?.toString(), message.headers]).sort()).toEqual([
    ['acc_1:one', 'one', { 'x-origin': 'kept' }],
    ['acc_1:three', 'three', { 'x-origin': 'kept' }],
    ['acc_1:two', 'two', { 'x-origin': 'kept' }],
  ]);
});
