import { table } from './report';
import { runChaos, sizeFromEnv } from './run';

// The chaos run (issue 7). CI size by default (10,000 events, 4 kills: usage,
// identity, rules and the gateway once each; one restart of Kafka and of
// Postgres, one Redis flush, usage scaled 1 → 3 → 1);
// `pnpm test:chaos` runs the full size (CHAOS_SIZE=full: 100,000 events,
// 12 kills, ...). Every CHAOS_* variable of run.ts overrides one figure.
//
// CAUTION: it stops and starts the shared Kafka broker and Postgres server;
// other tests running at the same time on this machine see those outages too.

const size = sizeFromEnv();
const command = size.size === 'full' ? 'pnpm test:chaos' : 'pnpm exec jest --selectProjects e2e --runInBand test/chaos';

describe(`chaos run (${size.size} size)`, () => {
  it('loses nothing and counts nothing twice while instances, Kafka, Postgres and Redis fail', async () => {
    const figures = await runChaos(size, command);
    process.stdout.write(`\n${table(figures)}\n\n${figures.verdict.examples.join('\n')}\n`);
    const v = figures.verdict;
    // Named figures, so a failure reads "lost: 12" or "double counted: 3".
    expect({
      'gave up': figures.send.gaveUp,
      lost: v.lost,
      'double counted': v.doubleCounted,
      'unexpected records': v.unexpectedRecords,
      'wrong records': v.wrongRecords,
      'wrong totals': v.wrongTotals,
      'wrong users': v.wrongUsers,
      'unexpected unmapped': v.unexpectedUnmapped,
      'dead-lettered': figures.deadLettered,
    }).toEqual({
      'gave up': 0,
      lost: 0,
      'double counted': 0,
      'unexpected records': 0,
      'wrong records': 0,
      'wrong totals': 0,
      'wrong users': 0,
      'unexpected unmapped': 0,
      'dead-lettered': 0,
    });
    expect(figures.acknowledged).toBe(figures.distinct);
    expect(figures.storedRecords).toBe(figures.expectedRecords);
  }, size.size === 'full' ? 3_600_000 : 900_000);
});
