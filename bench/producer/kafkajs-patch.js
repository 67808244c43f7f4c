#!/usr/bin/env node
// What patches/kafkajs@2.2.4.patch buys, upstream against patched in the same run: a copy of the
// installed (patched) kafkajs with the patch reversed is the upstream one. For each change it
// first checks that both give the same result, then times both.
//
//   node bench/producer/kafkajs-patch.js
//
// - murmur2 (the partitioner's hash) per key; equal on 300,000 random keys;
// - groupMessagesPerPartition per produce request; same partitions, same order;
// - crc32C per byte; equal on 20,000 random buffers;
// - encoding a whole produce request (records, batches, CRCs) of 30 (gateway), 300 and 2000
//   (usage's largest) messages over 6 partitions; byte-identical requests, also for messages
//   with headers, null or string keys and values, odd timestamps, gzip and a transactional id.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const patchedDir = join(require.resolve('kafkajs', { paths: [join(root, 'packages', 'platform')] }), '..');
if (!fs.readFileSync(join(patchedDir, 'src', 'protocol', 'encoder.js'), 'utf8').includes('Patched (kana-ingest')) {
  throw new Error('the installed kafkajs is not the patched one: run pnpm install');
}
const upstreamDir = join(fs.mkdtempSync(join(os.tmpdir(), 'kafkajs-upstream-')), 'kafkajs');
fs.cpSync(patchedDir, upstreamDir, { recursive: true, dereference: true });
execFileSync('patch', ['-R', '-p1', '-s', '-d', upstreamDir, '-i', join(root, 'patches', 'kafkajs@2.2.4.patch')]);

const load = (dir) => ({
  murmur2: require(join(dir, 'src/producer/partitioners/default/murmur2.js')),
  group: require(join(dir, 'src/producer/groupMessagesPerPartition.js')),
  partitioner: require(join(dir, 'src/producer/partitioners/default'))(),
  crc32C: require(join(dir, 'src/protocol/recordBatch/crc32C/crc32C.js')),
  Produce: require(join(dir, 'src/protocol/requests/produce/v3/request.js')),
  frame: require(join(dir, 'src/protocol/request.js')),
  Long: require(join(dir, 'src/utils/long.js')),
});
const upstream = load(upstreamDir);
const patched = load(patchedDir);

/** Mean µs (or ns with scale 1) per call of fn over repetitions, after a warm-up. */
async function time(fn, repetitions, scale = 1000) {
  for (let r = 0; r < Math.max(50, repetitions / 10); r++) await fn();
  const started = process.hrtime.bigint();
  for (let r = 0; r < repetitions; r++) await fn();
  return Number(process.hrtime.bigint() - started) / repetitions / scale;
}
async function compare(name, unit, run, repetitions, scale) {
  const before = await time(() => run(upstream), repetitions, scale);
  const after = await time(() => run(patched), repetitions, scale);
  process.stdout.write(`${name}: upstream ${before.toFixed(before < 10 ? 2 : 0)} ${unit}, patched ${after.toFixed(after < 10 ? 2 : 0)} ${unit} (${(before / after).toFixed(1)}x)\n`);
}

async function main() {
  for (let i = 0; i < 300_000; i++) {
    const length = i % 70;
    const key = i % 3 === 0 ? crypto.randomBytes(length) : i % 3 === 1 ? crypto.randomBytes(length).toString('base64') : `acc_${i}:user-${crypto.randomUUID()}`;
    if (upstream.murmur2(key) !== patched.murmur2(key)) throw new Error(`murmur2 differs for ${JSON.stringify(key)}`);
  }
  for (let i = 0; i < 20_000; i++) {
    const bytes = crypto.randomBytes(i % 3000);
    if (upstream.crc32C(bytes) !== patched.crc32C(bytes)) throw new Error(`crc32C differs for ${bytes.length} bytes`);
  }
  const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 1 }));
  const messages = (n) => Array.from({ length: n }, (_, i) => ({ key: `acc_${i % 10}:user-${i}`, value: Buffer.alloc(450, i % 256), timestamp: 1_764_000_000_000 + i }));
  const layout = (grouped) => JSON.stringify(Object.entries(grouped).map(([partition, list]) => [partition, list.map((message) => message.key)]));
  const grouped = (kafkajs, list) => kafkajs.group({ topic: 't', partitionMetadata, messages: list, partitioner: kafkajs.partitioner });
  // A produce request as kafkajs's producer builds one: the messages of each partition in a record batch.
  const request = (kafkajs, byPartition) =>
    kafkajs
      .Produce({
        acks: -1,
        timeout: 5000,
        producerId: kafkajs.Long.fromInt(7),
        producerEpoch: 0,
        topicData: [{ topic: 'kana.segment.track', partitions: Object.entries(byPartition).map(([partition, batch]) => ({ partition: Number(partition), firstSequence: 0, messages: batch })) }],
      })
      .encode()
      .then((encoder) => encoder.buffer);
  for (const n of [30, 300, 2000]) {
    const list = messages(n);
    if (layout(grouped(upstream, list)) !== layout(grouped(patched, list))) throw new Error(`grouping differs for ${n} messages`);
    if (!(await request(upstream, grouped(upstream, list))).equals(await request(patched, grouped(patched, list)))) throw new Error(`produce request bytes differ for ${n} messages`);
  }
  // What the bench's messages do not exercise: null and string keys and values, headers (one value
  // and several), string timestamps and deltas beyond 32 bits, a message without a timestamp
  // (Date.now() pinned), gzip, a transactional id, two topics in one request.
  const awkward = (n) =>
    Array.from({ length: n }, (_, i) => ({
      key: i % 7 === 0 ? null : i % 2 ? `acc_${i % 10}:user-${i}` : Buffer.from(`k${i}é`),
      value: i % 11 === 0 ? null : i % 3 ? crypto.createHash('sha512').update(String(i)).digest().subarray(0, i % 64) : `välue ${i}`,
      ...(i % 4 === 0 ? { headers: { a: 'x', 'b-é': ['1', Buffer.from('two')], c: Buffer.alloc(0) } } : {}),
      ...(i % 5 === 0 ? {} : { timestamp: [1_764_000_000_000 + i * 1000, 1_764_000_000_000 - i * 5_000_000, '1764000000123', 1_764_000_000_000 + 2 ** 31 + i][i % 4] }),
    }));
  const dateNow = Date.now;
  Date.now = () => 1_764_000_000_500;
  for (const compression of [0, 1]) {
    for (const n of [1, 2, 30, 300]) {
      const produce = (kafkajs) =>
        kafkajs.Produce({
          acks: -1,
          timeout: 5000,
          compression,
          transactionalId: n === 2 ? 'tx-é' : null,
          producerId: kafkajs.Long.fromInt(7),
          producerEpoch: 0,
          topicData: [
            { topic: 'kana.t', partitions: [0, 1, 2].map((partition) => ({ partition, firstSequence: partition * 3, messages: awkward(n) })) },
            { topic: 'other', partitions: [{ partition: 5, firstSequence: 0, messages: awkward(3) }] },
          ],
        });
      const encode = (kafkajs) => produce(kafkajs).encode().then((encoder) => encoder.buffer);
      // The request as it goes on the socket: size, api key and version, correlation and client id.
      const framed = (kafkajs) =>
        kafkajs.frame({ correlationId: n, clientId: n === 2 ? null : 'kana-ïngest', request: produce(kafkajs) }).then((encoder) => encoder.buffer);
      if (!(await framed(upstream)).equals(await framed(patched))) throw new Error(`framed request bytes differ for ${n} awkward messages (compression ${compression})`);
      if (!(await encode(upstream)).equals(await encode(patched))) throw new Error(`produce request bytes differ for ${n} awkward messages (compression ${compression})`);
    }
  }
  Date.now = dateNow;
  process.stdout.write('same results: murmur2 on 300,000 random keys, crc32C on 20,000 random buffers, grouping and produce request bytes for 30/300/2000 messages, and for awkward messages (null/string keys and values, headers, string and >32-bit timestamps, none, gzip, transactional), also framed for the socket\n');

  const keys = Array.from({ length: 1000 }, (_, i) => `acc_${i % 10}:user-${i}`);
  // 1000 keys a call: ns per key = µs per call.
  await compare('murmur2 per key', 'ns', (kafkajs) => keys.forEach((key) => kafkajs.murmur2(key)), 500);
  const block = crypto.randomBytes(16 * 1024);
  await compare('crc32C per KB', 'µs', (kafkajs) => kafkajs.crc32C(block), 3000, 1000 * 16);
  for (const n of [30, 300, 2000]) {
    const list = messages(n);
    await compare(`grouping ${n} messages by partition, per request`, 'µs', (kafkajs) => grouped(kafkajs, list), Math.round(200_000 / n));
    const byPartition = grouped(patched, list);
    await compare(`encoding a produce request of ${n} messages, per message`, 'µs', (kafkajs) => request(kafkajs, byPartition), Math.round(100_000 / n), 1000 * n);
  }
  fs.rmSync(join(upstreamDir, '..'), { recursive: true, force: true });
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
