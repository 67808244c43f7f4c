// kafkajs's default partitioner, as patched in patches/kafkajs@2.2.4.patch (32-bit murmur2):
// every producer of ours must put a key on the partition a Java client puts it on, or one
// user's events would be spread over partitions and lose their order.
import { Partitioners } from 'kafkajs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const murmur2: (key: string | Buffer) => number = require('kafkajs/src/producer/partitioners/default/murmur2');

describe("kafkajs's partitioner (patched) is Java's", () => {
  it.each([
    // Apache Kafka's UtilsTest.testMurmur2 vectors.
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('murmur2(%j) = %d', (key, expected) => {
    expect(murmur2(key)).toBe(expected);
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });

  it('hashes every byte of a multi-byte key, whatever its length modulo 4', () => {
    // Values of the upstream implementation (64-bit Long emulation) for the same keys.
    const keys = ['', 'é', 'é€', 'é€😀', 'acc_1:user-42', 'acc_01J9ZQ:user-7f3e'];
    expect(keys.map((key) => murmur2(key))).toEqual([275646681, 186971271, 1912689889, -232818566, 877799448, -1169623509]);
  });

  it('sends a key to (murmur2 & 0x7fffffff) % partitions, like the Java DefaultPartitioner', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
    for (const [key, hash] of [['foobar', -790332482], ['abc', 479470107]] as const) {
      expect(partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } })).toBe((hash & 0x7fffffff) % 6);
    }
  });
});
