import { DLQ_HEADERS, EventCodec, topicNames, userKey, type TrackMessage, type UsageRecord } from '@kana/schemas';
import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { AppError, UnavailableError } from '../errors';
import { STACK, deleteTopicsWithPrefix, readRawTopic, readTopic, uniqueId, waitFor } from '../testing';
import { BatchConsumer, type ConsumedMessage } from './batch-consumer';
import { createKafka, ensureTopics } from './client';
import { CoalescingProducer } from './coalescing-producer';

const aTrackMessage = (overrides: Partial<TrackMessage['event']> = {}): TrackMessage => ({
  schemaVersion: 1,
  accountId: 'acc_1',
  requestId: uniqueId('req-'),
  receivedAt: '2026-11-28T10:00:00.000Z',
  event: {
    type: 'track',
    event: 'Message Sent',
    userId: 'u1',
    messageId: uniqueId('m-'),
    timestamp: '2026-11-28T09:59:59.000Z',
    context: {},
    integrations: {},
    properties: { featureId: 'messages' },
    ...overrides,
  },
});

/** A usage record whose id is also its messageId. */
const aUsageRecord = (id: string, overrides: Partial<UsageRecord> = {}): UsageRecord => ({
  schemaVersion: 1, id, accountId: 'acc_1', userId: 'u', featureId: 'f', delta: 1,
  messageId: id, ruleId: null, timestamp: '2026-11-28T10:00:00.000Z', recordedAt: '2026-11-28T10:00:00.000Z',
  ...overrides,
});

describe('Kafka plumbing against the real broker and registry', () => {
  const prefix = `${uniqueId()}.`;
  const topics = topicNames(prefix);
  const logger = createLogger({ name: 'test', level: 'warn' });
  const metrics = createMetrics('test', { defaults: false });
  const kafka = createKafka({ brokers: [STACK.KAFKA_BROKERS], clientId: 'platform-test', logger });
  const codec = EventCodec.connect(STACK.SCHEMA_REGISTRY_URL, topics);
  const producer = new CoalescingProducer({ lingerMs: 5 }, { kafka, logger, metrics });

  beforeAll(async () => {
    await ensureTopics(kafka, topics, 2);
    await codec.registerAll();
    await producer.start();
  });

  afterAll(async () => {
    await producer.stop();
    await deleteTopicsWithPrefix(prefix);
  });

  describe('decoding a value', () => {
    const wire = (id: number, json: string) => Buffer.concat([Buffer.from([0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]), Buffer.from(json)]);
    const decodeError = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => ({ name: error.name, message: error.message }));

    it('gives back what was encoded, from a fresh codec that learns the schema id from the registry', async () => {
      const messages = Array.from({ length: 50 }, () => aTrackMessage());
      const encoded = await Promise.all(messages.map((message) => codec.encode('track', message)));
      const reader = EventCodec.connect(STACK.SCHEMA_REGISTRY_URL, topics);
      // A batch decodes its messages concurrently: all of them wait on the one lookup of the id.
      expect(await Promise.all(encoded.map((bytes) => reader.decode('track', bytes)))).toEqual(messages);
    });

    it('refuses what is not the wire format, an id the registry does not know, a value that is not JSON, and one zod refuses', async () => {
      const id = (await codec.encode('track', aTrackMessage())).readInt32BE(1);
      expect(await decodeError(codec.decode('track', Buffer.from('{"not":"wire format"}')))).toEqual({ name: 'DecodeError', message: expect.stringMatching(/not in the Confluent wire format/) });
      expect(await decodeError(codec.decode('track', wire(2_000_000_000, '{}')))).toEqual({ name: 'DecodeError', message: expect.stringMatching(/schema 2000000000/) });
      expect(await decodeError(codec.decode('track', wire(id, '{"schemaVersion":')))).toEqual({ name: 'DecodeError', message: expect.stringMatching(/the value is not/) });
      const noUser = JSON.stringify({ ...aTrackMessage(), event: { ...aTrackMessage().event, userId: undefined } });
      expect(await decodeError(codec.decode('track', wire(id, noUser)))).toEqual({ name: 'DecodeError', message: expect.stringMatching(/invalid track value at event.userId/) });
    });

    it('does not call a message undecodable when the registry cannot be reached (the batch is retried, not dead-lettered)', async () => {
      const id = (await codec.encode('track', aTrackMessage())).readInt32BE(1);
      const cut = EventCodec.connect('http://127.0.0.1:9/apis/ccompat/v7', topics);
      const error = await decodeError(cut.decode('track', wire(id, JSON.stringify(aTrackMessage()))));
      expect(error).toBeDefined();
      expect(error!.name).not.toBe('DecodeError');
    });
  });

  it('lets several services register the schemas of a fresh prefix at the same moment', async () => {
    // What a first start of the whole system does: every service (and instance) registers every subject.
    const fresh = topicNames(`${uniqueId()}.`);
    const codecs = Array.from({ length: 12 }, () => EventCodec.connect(STACK.SCHEMA_REGISTRY_URL, fresh));
    await Promise.all(codecs.map((c) => c.registerAll()));
    const message = aTrackMessage();
    const encoded = await Promise.all(codecs.map((c) => c.encode('track', message)));
    expect(new Set(encoded.map((bytes) => bytes.readUInt32BE(1))).size).toBe(1);
    expect(await codecs[0]!.decode('track', encoded[11]!)).toEqual(message);
  });

  it('encodes an already parsed value to the same bytes as the validating encode', async () => {
    const message = aTrackMessage({ userId: 'ü-😀' });
    const parsed = codec.encodeParsed('track', message);
    expect(parsed.equals(await codec.encode('track', message))).toBe(true);
    expect(await codec.decode('track', parsed)).toEqual(message);
  });

  it('encodes many parsed values into slices holding the same bytes as one at a time', async () => {
    const messages = [aTrackMessage({ userId: 'ü-😀' }), aTrackMessage({ userId: 'u2' }), aTrackMessage({ event: 'API Call' })];
    const many = codec.encodeParsedMany('track', messages);
    expect(many).toHaveLength(3);
    messages.forEach((message, i) => expect(many[i]!.equals(codec.encodeParsed('track', message))).toBe(true));
    expect(await Promise.all(many.map((bytes) => codec.decode('track', bytes)))).toEqual(messages);
    expect(codec.encodeParsedMany('track', [])).toEqual([]);
  });

  it('coalesces concurrent sends into few produce requests and resolves each after the ack', async () => {
    const messages = Array.from({ length: 200 }, (_, index) => aTrackMessage({ userId: `u${index}` }));
    await Promise.all(
      messages.map(async (message) =>
        producer.send(topics.track, [{ key: userKey(message.accountId, message.event.userId), value: await codec.encode('track', message) }]),
      ),
    );
    const histogram = await metrics.getSingleMetric('kana_producer_batch_messages')!.get();
    const requests = histogram.values.find((value) => (value as { metricName?: string }).metricName?.endsWith('_count'));
    expect(requests!.value).toBeGreaterThan(0);
    expect(requests!.value).toBeLessThan(50);

    const read = await readTopic(codec, 'track', (all) => all.length >= 200);
    expect(read.map((message) => message.value.event.messageId).sort()).toEqual(messages.map((m) => m.event.messageId).sort());
    expect(read.every((message) => message.key === `acc_1:${message.value.event.userId}`)).toBe(true);
  });

  it('splits one send larger than the broker accepts into several requests', async () => {
    const filler = 'x'.repeat(1024);
    const big = await Promise.all(
      Array.from({ length: 2500 }, (_, index) => codec.encode('usageRecords', aUsageRecord(`r${index}`, { accountId: 'acc_big', featureId: filler, messageId: `m${index}` }))),
    );
    await producer.send(topics.usageRecords, big.map((value) => ({ key: 'acc_big:u', value })));
    const read = await readTopic(codec, 'usageRecords', (all) => all.length >= 2500);
    expect(new Set(read.map((message) => message.value.id)).size).toBe(2500);
  });

  it('commits only handled batches, dead-letters undecodable and poison messages, and retries retriable failures', async () => {
    const good = [aTrackMessage({ userId: 'a' }), aTrackMessage({ userId: 'poison' }), aTrackMessage({ userId: 'b' })];
    await producer.send(topics.identify, [{ key: 'acc_1:x', value: Buffer.from('{"not":"wire format"}') }]);
    await producer.send(topics.track, []);

    const seen: ConsumedMessage<TrackMessage>[] = [];
    let transientFailures = 1;
    const consumer = new BatchConsumer(
      { groupId: `${prefix}group`, topic: 'track', maxBackoffMs: 50 },
      { kafka, codec, producer, logger, metrics },
      async (batch) => {
        if (batch.some((m) => m.value.event.userId === 'poison')) {
          if (batch.length > 1 && transientFailures-- > 0) throw new UnavailableError('database down');
          if (batch.length === 1) throw new AppError('cannot handle this one');
          throw new AppError('batch with poison');
        }
        seen.push(...batch);
      },
    );
    const raw = new BatchConsumer({ groupId: `${prefix}raw`, topic: 'identify' }, { kafka, codec, producer, logger, metrics }, async () => {
      throw new Error('an undecodable message must never reach the handler');
    });
    try {
      await consumer.start();
      await raw.start();
      for (const message of good) {
        await producer.send(topics.track, [{ key: `acc_1:${message.event.userId}`, value: await codec.encode('track', message) }]);
      }
      await waitFor(() => seen.some((m) => m.value.event.userId === 'b'), { what: 'the message after the poison one' });
      const dlq = await readRawTopic(topics.dlq, (all) => all.length >= 2);
      const reasons = dlq.map((message) => message.headers[DLQ_HEADERS.error]);
      expect(reasons.some((reason) => /not decodable/.test(reason!))).toBe(true);
      expect(reasons.some((reason) => /cannot handle this one/.test(reason!))).toBe(true);
      expect(dlq.find((m) => m.headers[DLQ_HEADERS.sourceTopic] === topics.identify)!.value!.toString()).toBe('{"not":"wire format"}');
    } finally {
      await consumer.stop();
      await raw.stop();
    }

    // Everything handled was committed: a new instance of the group sees nothing old again.
    const replayed: ConsumedMessage<TrackMessage>[] = [];
    const again = new BatchConsumer({ groupId: `${prefix}group`, topic: 'track' }, { kafka, codec, producer, logger, metrics }, async (batch) => {
      replayed.push(...batch);
    });
    const marker = aTrackMessage({ userId: 'marker' });
    try {
      await again.start();
      await producer.send(topics.track, [{ key: 'acc_1:marker', value: await codec.encode('track', marker) }]);
      await waitFor(() => replayed.some((m) => m.value.event.userId === 'marker'), { what: 'the marker' });
      expect(replayed.map((m) => m.value.event.userId)).toEqual(['marker']);
    } finally {
      await again.stop();
    }
  });

  it('replaces a consumer that stopped consuming without telling anyone, and the group goes on', async () => {
    const seen: string[] = [];
    const consumer = new BatchConsumer(
      { groupId: `${prefix}stall`, topic: 'usageRecords', stallTimeoutMs: 3_000 },
      { kafka, codec, producer, logger, metrics },
      async (batch) => {
        seen.push(...batch.map((message) => message.value.id));
      },
    );
    const record = (id: string) =>
      codec.encode('usageRecords', aUsageRecord(id, { accountId: 'acc_stall' }));
    try {
      await consumer.start();
      await producer.send(topics.usageRecords, [{ key: 'acc_stall:u', value: await record('before') }]);
      await waitFor(() => seen.includes('before'), { what: 'the record sent before the stall' });

      // What kafkajs sometimes does after a broker restart: its runner stops for good, with no
      // crash event and no error anywhere. Simulated by stopping the runner behind our back.
      await (consumer as unknown as { consumer: { stop(): Promise<void> } }).consumer.stop();
      await producer.send(topics.usageRecords, [{ key: 'acc_stall:u', value: await record('after') }]);

      await waitFor(() => seen.includes('after'), { what: 'the record sent while the consumer was stuck', timeoutMs: 60_000 });
      expect(seen.filter((id) => id === 'after')).toHaveLength(1);
      const rebuilds = await metrics.getSingleMetric('kana_consumer_rebuilds_total')!.get();
      expect(rebuilds.values.find((value) => value.labels.reason === 'stall')?.value).toBeGreaterThanOrEqual(1);
      expect(consumer.healthy()).toBe(true);
    } finally {
      await consumer.stop();
    }
  });

  it('starts at once while its group still waits for a member that was killed, and consumes once it has joined', async () => {
    // A service restarted after kill -9: its old member stays in the group until its session
    // expires, and joining waits until then. The service's start (and its HTTP API) must not.
    const groupId = `${prefix}killed-member`;
    const code = `
      const { Kafka, logLevel } = require(${JSON.stringify(require.resolve('kafkajs'))});
      const consumer = new Kafka({ brokers: [${JSON.stringify(STACK.KAFKA_BROKERS)}], logLevel: logLevel.NOTHING })
        .consumer({ groupId: ${JSON.stringify(groupId)}, sessionTimeout: 10000, heartbeatInterval: 1000 });
      consumer.on(consumer.events.GROUP_JOIN, () => process.send('joined'));
      consumer.connect()
        .then(() => consumer.subscribe({ topic: ${JSON.stringify(topics.usageRecords)}, fromBeginning: true }))
        .then(() => consumer.run({ eachMessage: async () => undefined }));`;
    const doomed = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise((resolve) => doomed.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      doomed.once('message', () => resolve());
      doomed.once('exit', (status) => reject(new Error(`the member to kill exited first (${status})`)));
    });
    doomed.kill('SIGKILL');
    await exited;

    const seen: string[] = [];
    const consumer = new BatchConsumer({ groupId, topic: 'usageRecords' }, { kafka, codec, producer, logger, metrics }, async (batch) => {
      seen.push(...batch.map((message) => message.value.id));
    });
    try {
      const joinedMetric = async () => (await metrics.getSingleMetric('kana_consumer_joined')!.get()).values.find((value) => value.labels.topic === 'usageRecords')?.value;
      await consumer.start();
      expect(consumer.joined).toBe(false);
      expect(await joinedMetric()).toBe(0);
      expect(consumer.healthy()).toBe(true);
      const id = uniqueId('after-kill-');
      await producer.send(topics.usageRecords, [{ key: 'acc_kill:u', value: await codec.encode('usageRecords', aUsageRecord(id, { accountId: 'acc_kill' })) }]);
      await waitFor(() => seen.includes(id), { what: 'the record, once the group gave up on the killed member', timeoutMs: 60_000 });
      expect(consumer.joined).toBe(true);
      expect(await joinedMetric()).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it('retries a batch while Postgres is unreachable and handles it once it is back, dead-lettering nothing', async () => {
    // Postgres as the handler sees it during a restart: first nothing listens on its port,
    // then it is back (a TCP relay to the real server, started midway).
    const port = await freePort();
    const pool = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1_000 });
    pool.on('error', () => undefined);
    let failures = 0;
    const seen: string[] = [];
    const consumer = new BatchConsumer(
      { groupId: `${prefix}pg-down`, topic: 'usageRecords', maxBackoffMs: 200 },
      { kafka, codec, producer, logger, metrics },
      async (batch) => {
        try {
          await pool.query('select 1'); // raw node-postgres errors, as a store that does not wrap them raises
        } catch (error) {
          failures++;
          throw error;
        }
        seen.push(...batch.map((message) => message.value.id).filter((id) => id.startsWith('pg-')));
      },
    );
    let relay: Server | undefined;
    try {
      await consumer.start();
      const value = await codec.encode('usageRecords', aUsageRecord('pg-1', { accountId: 'acc_pg' }));
      await producer.send(topics.usageRecords, [{ key: 'acc_pg:u', value }]);
      await waitFor(() => failures >= 4, { what: 'the handler failing while Postgres is away' });
      relay = await tcpRelay(port, 5432);
      await waitFor(() => seen.includes('pg-1'), { what: 'the record handled after Postgres came back', timeoutMs: 60_000 });
      expect(seen).toEqual(['pg-1']);
      const handled = await metrics.getSingleMetric('kana_consumer_messages_total')!.get();
      expect(handled.values.filter((v) => v.labels.topic === 'usageRecords' && v.labels.outcome === 'dlq').reduce((sum, v) => sum + v.value, 0)).toBe(0);
    } finally {
      await consumer.stop();
      await pool.end();
      relay?.close();
    }
  });

  it('keeps a member in its group, without crashing, while the leader it waits for died after joining', async () => {
    // The group's leader rejoins a rebalance and dies before sending the assignment (a service
    // killed mid-rebalance, as in the chaos run). The other member's SyncGroup waits for it until
    // the coordinator expires the leader's session. If the request timed out first, kafkajs
    // restarted the consumer as a new member and left its old id behind in the group: the next
    // generation's possible leader, and so on (a group stuck for minutes after a broker restart).
    const topic = topics.identityChanges;
    const groupId = `${prefix}dead-leader`;
    let releaseLeader: () => void = () => undefined;
    const leaderStuck = new Promise<void>((resolve) => (releaseLeader = resolve));
    const roundRobin = (hangFromCall: number) => {
      let calls = 0;
      return ({ cluster }: { cluster: { findTopicPartitionMetadata(topic: string): { partitionId: number }[] } }) => ({
        name: 'DeadLeaderTest',
        version: 0,
        protocol: ({ topics: subscribed }: { topics: string[] }) => ({ name: 'DeadLeaderTest', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: subscribed, userData: Buffer.alloc(0) }) }),
        async assign({ members }: { members: { memberId: string }[] }) {
          if (++calls >= hangFromCall) await leaderStuck;
          const ids = members.map((member) => member.memberId).sort();
          const partitions = cluster.findTopicPartitionMetadata(topic).map((metadata) => metadata.partitionId);
          return ids.map((memberId, index) => ({
            memberId,
            memberAssignment: AssignerProtocol.MemberAssignment.encode({
              version: 0,
              assignment: { [topic]: partitions.filter((_, p) => p % ids.length === index) },
              userData: Buffer.alloc(0),
            }),
          }));
        },
      });
    };
    // A request timeout far below the session timeout, so a SyncGroup bounded by it would time out.
    const client = (clientId: string) => new Kafka({ clientId, brokers: [STACK.KAFKA_BROKERS], requestTimeout: 1_000, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 8 } });
    const options = { groupId, sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 20_000 };
    const leader = client('dead-leader').consumer({ ...options, partitionAssigners: [roundRobin(2) as never] });
    const member = client('survivor').consumer({ ...options, partitionAssigners: [roundRobin(Infinity) as never] });
    const crashes: string[] = [];
    const joins: string[] = [];
    member.on(member.events.CRASH, ({ payload }) => crashes.push(payload.error.message));
    member.on(member.events.GROUP_JOIN, ({ payload }) => joins.push(payload.memberId));
    const seen: string[] = [];
    const raw = new Kafka({ brokers: [STACK.KAFKA_BROKERS], logLevel: logLevel.NOTHING }).producer();
    try {
      await raw.connect();
      let leaderJoined = false;
      leader.on(leader.events.GROUP_JOIN, () => (leaderJoined = true));
      await leader.connect();
      await leader.subscribe({ topic, fromBeginning: true });
      await leader.run({ eachMessage: async () => undefined });
      await waitFor(() => leaderJoined, { what: 'the first member leading the group' });

      await member.connect();
      await member.subscribe({ topic, fromBeginning: true });
      await member.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
      await raw.send({ topic, messages: [0, 1].map((partition) => ({ partition, value: `dead-leader-${partition}` })) });

      await waitFor(() => seen.length === 2, { what: 'the surviving member consuming every partition', timeoutMs: 60_000 });
      expect(seen.sort()).toEqual(['dead-leader-0', 'dead-leader-1']);
      expect(crashes).toEqual([]);
      expect(new Set(joins).size).toBe(1);
    } finally {
      releaseLeader();
      await Promise.allSettled([member.disconnect(), leader.disconnect(), raw.disconnect()]);
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function tcpRelay(from: number, to: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(to, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => sockets.forEach((socket) => socket.destroy()));
  await new Promise<void>((resolve) => server.listen(from, '127.0.0.1', resolve));
  return server;
}
