#!/usr/bin/env node
// The kafkajs patch (patches/kafkajs@2.2.4.patch), upstream against patched:
// - murmur2 (the partitioner's hash) per key, checked equal on 300,000 random keys;
// - groupMessagesPerPartition per produce request of 30 (gateway), 500 and 2000 (usage's largest)
//   messages, checked to put the same messages on the same partitions in the same order.
//
//   node bench/producer/kafkajs-patch.js
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');

const producerDir = join(require.resolve('kafkajs', { paths: [join(__dirname, '..', '..', 'packages', 'platform')] }), '..', 'src', 'producer');
const patched = require(join(producerDir, 'groupMessagesPerPartition.js'));
const partitioner = require(join(producerDir, 'partitioners', 'default'))();
// kafkajs 2.2.4's own version, as the patch removes it (the installed copy is the patched one).
const upstream = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] || [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
};
if (!fs.readFileSync(join(producerDir, 'groupMessagesPerPartition.js'), 'utf8').includes('Patched (kana-ingest')) throw new Error('kafkajs is not the patched one: run pnpm install');

// kafkajs 2.2.4's murmur2 is rebuilt from the patch file (its - lines), over kafkajs's own Long.
function upstreamMurmur2() {
  const patch = fs.readFileSync(join(__dirname, '..', '..', 'patches', 'kafkajs@2.2.4.patch'), 'utf8');
  const file = patch.split(/^diff --git /m).find((part) => part.startsWith('a/src/producer/partitioners/default/murmur2.js'));
  const lines = file.split('\n').slice(file.split('\n').findIndex((line) => line.startsWith('@@')));
  const source = lines.filter((line) => !line.startsWith('+') && !line.startsWith('@@') && !line.startsWith('\\')).map((line) => line.slice(1)).join('\n');
  const module = new Module(join(producerDir, 'partitioners', 'default', 'murmur2-upstream.js'));
  module.paths = Module._nodeModulePaths(module.id);
  module.filename = module.id;
  module._compile(source, module.id);
  return module.exports;
}
const murmur2 = { upstream: upstreamMurmur2(), patched: require(join(producerDir, 'partitioners', 'default', 'murmur2.js')) };
for (let i = 0; i < 300_000; i++) {
  const length = i % 70;
  const key = i % 3 === 0 ? crypto.randomBytes(length) : i % 3 === 1 ? crypto.randomBytes(length).toString('base64') : `acc_${i}:user-${crypto.randomUUID()}`;
  if (murmur2.upstream(key) !== murmur2.patched(key)) throw new Error(`murmur2 differs for ${JSON.stringify(key)}`);
}
{
  const keys = Array.from({ length: 200_000 }, (_, i) => `acc_${i % 10}:user-${i}`);
  const time = (hash) => {
    const started = process.hrtime.bigint();
    for (const key of keys) hash(key);
    return Number(process.hrtime.bigint() - started) / keys.length;
  };
  time(murmur2.upstream), time(murmur2.patched); // warm-up
  const [before, after] = [time(murmur2.upstream), time(murmur2.patched)];
  process.stdout.write(`murmur2: upstream ${before.toFixed(0)} ns, patched ${after.toFixed(0)} ns per key (${(before / after).toFixed(1)}x), equal on 300,000 random keys\n`);
}
const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 1 }));

const layout = (grouped) => JSON.stringify(Object.entries(grouped).map(([partition, messages]) => [partition, messages.map((message) => message.key)]));
for (const n of [30, 500, 2000]) {
  const args = { topic: 't', partitionMetadata, partitioner, messages: Array.from({ length: n }, (_, i) => ({ key: `acc_${i % 10}:user-${i}`, value: Buffer.alloc(300) })) };
  if (layout(upstream(args)) !== layout(patched(args))) throw new Error(`the patched grouping differs for ${n} messages`);
  const time = (group) => {
    const repetitions = Math.max(20, Math.round(200_000 / n));
    const started = process.hrtime.bigint();
    for (let r = 0; r < repetitions; r++) group(args);
    return Number(process.hrtime.bigint() - started) / repetitions / 1000;
  };
  time(upstream), time(patched); // warm-up
  const [before, after] = [time(upstream), time(patched)];
  process.stdout.write(`${n} messages: upstream ${before.toFixed(0)} µs, patched ${after.toFixed(0)} µs per request (${(before / after).toFixed(1)}x), same partitions and order\n`);
}
