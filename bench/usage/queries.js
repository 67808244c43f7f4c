#!/usr/bin/env node
// One customer's usage, as a billing run asks for it: GET /v1/usage?userId=&from=&to= and
// /v1/usage/records?userId= through the service's own queries (PgUsageQueries, services/usage/dist), over an
// account of RECORDS usage records spread over USERS users, in a schema migrated like the service's. The
// baseline, in the same run and the same schema: the same queries with the user index of migration 006
// dropped (each then reads every record of the account in the range). Writes a section to BENCHMARKS.md.
//
//   pnpm exec tsc -b services/usage && RECORDS=1000000 USERS=10000 node bench/usage/queries.js
'use strict';
const os = require('node:os');
const { join } = require('node:path');
const { createRequire } = require('node:module');
const root = join(__dirname, '..', '..');
const usageRequire = createRequire(join(root, 'services', 'usage', 'package.json'));
const { createPool, migrate } = usageRequire('@kana/platform');
const { STACK, dropSchema, uniqueId } = usageRequire('@kana/platform/testing');
const { MIGRATIONS_DIR } = require(join(root, 'services', 'usage', 'dist', 'app'));
const { PgUsageQueries } = require(join(root, 'services', 'usage', 'dist', 'adapters', 'pg-usage-queries'));
const { writeSection } = require('./section');

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const USERS = Number(process.env.USERS ?? 10_000);
const CALLS = Number(process.env.CALLS ?? 20);
const ACCOUNT = 'acc_bench_queries';
const MONTH = { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };

/** ms per call of each query for CALLS different users (after one call to warm up). */
async function timeQueries(queries) {
  const users = Array.from({ length: CALLS }, (_, i) => `user-${(i * 7919) % USERS}`);
  await queries.totals({ accountId: ACCOUNT, userId: users[0], ...MONTH }, 50, null);
  const figures = {};
  for (const [name, call] of [
    ['totals', (userId) => queries.totals({ accountId: ACCOUNT, userId, ...MONTH }, 50, null)],
    ['records', (userId) => queries.records({ accountId: ACCOUNT, userId, ...MONTH }, 50, null)],
  ]) {
    const started = process.hrtime.bigint();
    for (const userId of users) {
      const page = await call(userId);
      if (page.data.length === 0) throw new Error(`no ${name} for ${userId}: the load did not work`);
    }
    figures[name] = Number(process.hrtime.bigint() - started) / 1e6 / users.length;
  }
  return figures;
}

async function main() {
  const schema = uniqueId('usage_queries').toLowerCase();
  const pool = createPool({ url: STACK.DATABASE_URL, schema, max: 2 });
  try {
    await migrate(pool, { schema, dir: MIGRATIONS_DIR });
    const loaded = performance.now();
    await pool.query(
      `INSERT INTO usage_records (id, account_id, message_id, feature_id, user_id, delta, rule_id, event_time)
       SELECT gen_random_uuid(), $1, 'm-' || g, 'feature_' || (g % 5), 'user-' || (g % $3::int), 1, NULL,
              timestamptz '2026-11-01T00:00:00Z' + (g % 2500000) * interval '1 second'
       FROM generate_series(1, $2::int) AS g`,
      [ACCOUNT, RECORDS, USERS],
    );
    await pool.query('ANALYZE usage_records');
    process.stdout.write(`loaded ${RECORDS} records in ${((performance.now() - loaded) / 1000).toFixed(1)} s\n`);

    const indexed = await timeQueries(new PgUsageQueries({ pool }));
    await pool.query('DROP INDEX usage_records_account_user_time');
    await pool.query('ANALYZE usage_records');
    const scanning = await timeQueries(new PgUsageQueries({ pool }));

    const rows = ['totals', 'records'].map((name) => ({ name, scan: scanning[name], index: indexed[name] }));
    const table = [
      '| query, one user, one month | without the user index (baseline), ms | with it, ms | ratio |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.name === 'totals' ? 'GET /v1/usage?userId=' : 'GET /v1/usage/records?userId='} | ${r.scan.toFixed(1)} | ${r.index.toFixed(2)} | ${(r.scan / r.index).toFixed(0)} |`),
    ].join('\n');
    console.log(table);
    writeTable(table);
  } finally {
    await pool.end();
    await dropSchema(schema).catch(() => undefined);
  }
}

function writeTable(table) {
  writeSection(
    'usage-queries',
    [
      "### One customer's usage in a large account",
      '',
      `Command: \`pnpm exec tsc -b services/usage && RECORDS=${RECORDS} USERS=${USERS} node bench/usage/queries.js\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'unknown CPU'}).`,
      `${RECORDS.toLocaleString('en-US')} usage records of one account over ${USERS.toLocaleString('en-US')} users in a schema migrated as the service's; the service's`,
      `queries (PgUsageQueries) for ${CALLS} users, a month each, with the index of migration 006 on (account_id, user_id,`,
      'event_time) and, in the same run and schema, without it (dropped).',
      '',
      table,
    ],
    'usage-resolve',
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
