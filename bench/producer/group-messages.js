#!/usr/bin/env node
// The kafkajs patch (patches/kafkajs@2.2.4.patch): upstream groupMessagesPerPartition against the
// patched one, per produce request of 30 (gateway), 500 and 2000 (usage's largest) messages, and a
// check that both put the same messages on the same partitions in the same order.
//
//   node bench/producer/group-messages.js
'use strict';
const fs = require('node:fs');
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
