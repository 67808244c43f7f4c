#!/usr/bin/env node
// Usage as a billing run asks for it, through the service's own queries (PgUsageQueries, services/usage/dist),
// over an account of RECORDS usage records spread over USERS users (one in a hundred merged into another), in a
// schema migrated like the service's:
// - one customer's: GET /v1/usage?userId=&from=&to= and /v1/usage/records?userId=; baseline, in the same run
//   and schema, the same queries with the user index of migration 006 dropped (each then reads every record of
//   the account in the range);
// - the whole account's: GET /v1/usage?from=&to= page after page (PAGES pages of 1000 pairs, a month and a
//   day); baseline, in the same run, the query that served it before (every record of the range grouped for
//   each page), whose pages must hold the same pairs.
// Writes a section to BENCHMARKS.md.
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
const WEEK = { from: '2026-11-09T00:00:00.000Z', to: '2026-11-16T00:00:00.000Z' };
const DAY = { from: '2026-11-10T00:00:00.000Z', to: '2026-11-11T00:00:00.000Z' };
const PAGES = Number(process.env.PAGES ?? 10);
const PAGE_SIZE = 1000;

/**
 * The baseline for the account's totals (no userId): the query PgUsageQueries ran for them before 2026-11-30,
 * as it was, which groups every record of the account in the range for every page.
 */
class GroupEverything {
  constructor(pool) {
    this.pool = pool;
  }

  async totals(filter, limit, after) {
    const { rows } = await this.pool.query(
      `SELECT user_id, feature_id, total FROM (
         SELECT COALESCE(a.survivor_user_id, r.user_id) AS user_id, r.feature_id, sum(r.delta)::text AS total
         FROM usage_records r
         LEFT JOIN user_aliases a ON a.account_id = r.account_id AND a.user_id = r.user_id
         WHERE r.account_id = $1
           AND ($2::timestamptz IS NULL OR r.event_time >= $2) AND ($3::timestamptz IS NULL OR r.event_time < $3)
           AND ($4::text IS NULL OR r.feature_id = $4) AND ($5::text[] IS NULL OR r.user_id = ANY($5))
         GROUP BY 1, 2
       ) t
       WHERE $6::text IS NULL OR (user_id COLLATE "C", feature_id COLLATE "C") > ($6::text COLLATE "C", $7::text COLLATE "C")
       ORDER BY user_id COLLATE "C", feature_id COLLATE "C"
       LIMIT $8`,
      [filter.accountId, filter.from ?? null, filter.to ?? null, filter.featureId ?? null, null, after?.userId ?? null, after?.featureId ?? null, limit + 1],
    );
    const page = rows.slice(0, limit).map((row) => ({ userId: row.user_id, featureId: row.feature_id, total: Number(row.total) }));
    const last = page[page.length - 1];
    return { data: page, next: rows.length > limit && last ? { userId: last.userId, featureId: last.featureId } : null };
  }
}

/**
 * ms per page of the account's totals over `range`, the first PAGES pages of PAGE_SIZE pairs as a billing run
 * walks them, the pairs read and whether the pages walked the users.
 */
async function timeAccountPages(queries, range) {
  await queries.totals({ accountId: ACCOUNT, ...range }, PAGE_SIZE, null);
  const pairs = [];
  let after = null;
  let walk = false;
  const started = process.hrtime.bigint();
  let pages = 0;
  for (; pages < PAGES; pages++) {
    const page = await queries.totals({ accountId: ACCOUNT, ...range }, PAGE_SIZE, after);
    pairs.push(...page.data);
    walk ||= page.next?.walk === true;
    if (!page.next) {
      pages++;
      break;
    }
    after = page.next;
  }
  return { ms: Number(process.hrtime.bigint() - started) / 1e6 / pages, pairs, walk };
}

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
       SELECT gen_random_uuid(), $1, 'm-' || g, 'feature_' || ((g / $3::int) % 5), 'user-' || (g % $3::int), 1, NULL,
              timestamptz '2026-11-01T00:00:00Z' + (g % 2500000) * interval '1 second'
       FROM generate_series(1, $2::int) AS g`,
      [ACCOUNT, RECORDS, USERS],
    );
    await pool.query('ANALYZE usage_records');
    process.stdout.write(`loaded ${RECORDS} records in ${((performance.now() - loaded) / 1000).toFixed(1)} s\n`);

    // One user in a hundred merged into another: the account's totals count them for their survivors.
    await pool.query(
      `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at)
       SELECT $1, 'user-' || (g * 100 + 7), 'user-' || (g * 100 + 3), now() FROM generate_series(0, $2::int / 100 - 1) AS g`,
      [ACCOUNT, USERS],
    );
    await pool.query('ANALYZE user_aliases');
    const indexed = await timeQueries(new PgUsageQueries({ pool }));
    const account = [];
    for (const [name, range] of [['one month', MONTH], ['one week', WEEK], ['one day', DAY]]) {
      const before = await timeAccountPages(new GroupEverything(pool), range);
      const now = await timeAccountPages(new PgUsageQueries({ pool }), range);
      if (JSON.stringify(before.pairs) !== JSON.stringify(now.pairs)) throw new Error(`the account's totals over ${name} differ from the baseline's`);
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM usage_records WHERE account_id = $1 AND event_time >= $2 AND event_time < $3', [ACCOUNT, range.from, range.to]);
      account.push({ name, records: rows[0].n, walk: now.walk, scan: before.ms, index: now.ms, pairs: now.pairs.length });
    }
    await pool.query('DROP INDEX usage_records_account_user_time');
    await pool.query('ANALYZE usage_records');
    const scanning = await timeQueries(new PgUsageQueries({ pool }));

    const rows = ['totals', 'records'].map((name) => ({ name, scan: scanning[name], index: indexed[name] }));
    const table = [
      '| query, one user, one month | without the user index (baseline), ms | with it, ms | ratio |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.name === 'totals' ? 'GET /v1/usage?userId=' : 'GET /v1/usage/records?userId='} | ${r.scan.toFixed(1)} | ${r.index.toFixed(2)} | ${(r.scan / r.index).toFixed(0)} |`),
      '',
      `| the account's totals (no userId), pages of ${PAGE_SIZE} pairs | records in the range | every record of the range grouped for each page (baseline), ms a page | the service, ms a page | how the service read it | ratio |`,
      '|---|---|---|---|---|---|',
      ...account.map(
        (r) =>
          `| ${r.name}, first ${Math.ceil(r.pairs / PAGE_SIZE)} pages (${r.pairs} pairs, the same in both) | ${r.records.toLocaleString('en-US')} | ${r.scan.toFixed(1)} | ${r.index.toFixed(1)} | ${r.walk ? "walked the users: the page's users' records" : 'grouped the range (fewer than 50,000 records)'} | ${(r.scan / r.index).toFixed(1)} |`,
      ),
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
      '### Usage queries in a large account',
      '',
      `Command: \`pnpm exec tsc -b services/usage && RECORDS=${RECORDS} USERS=${USERS} node bench/usage/queries.js\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'unknown CPU'}).`,
      `${RECORDS.toLocaleString('en-US')} usage records of one account over ${USERS.toLocaleString('en-US')} users (one in a hundred merged into another) in a schema`,
      `migrated as the service's; the service's queries (PgUsageQueries). One customer's: ${CALLS} users, a month each, with`,
      'the index of migration 006 on (account_id, user_id, event_time) and, in the same run and schema, without it',
      "(dropped). The account's: the first pages a billing run walks, against the query that served them before.",
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
