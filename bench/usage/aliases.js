#!/usr/bin/env node
// Merges reaching usage in bulk, as a Stripe import that merges MERGES customers into their users sends them:
// `merged` changes in batches of BATCH, through the service's PgUserAliases (services/usage/dist), which
// recomputes the aliases of the users each batch is connected to by merges. The baseline, in the same run on a
// schema of its own: the recomputation it replaced (every batch read the account's whole merge log and
// rewrote every alias of the account), copied below as it was. Both must end with the same aliases. Writes a
// section to BENCHMARKS.md.
//
//   pnpm exec tsc -b services/usage && MERGES=30000 BATCH=500 node bench/usage/aliases.js
'use strict';
const os = require('node:os');
const { join } = require('node:path');
const { createRequire } = require('node:module');
const root = join(__dirname, '..', '..');
const usageRequire = createRequire(join(root, 'services', 'usage', 'package.json'));
const { createPool, inTransaction, migrate } = usageRequire('@kana/platform');
const { STACK, dropSchema, uniqueId } = usageRequire('@kana/platform/testing');
const { MIGRATIONS_DIR } = require(join(root, 'services', 'usage', 'dist', 'app'));
const { PgUserAliases } = require(join(root, 'services', 'usage', 'dist', 'adapters', 'pg-user-aliases'));
const { resolveAliases } = require(join(root, 'services', 'usage', 'dist', 'domain', 'aliases'));
const { writeSection } = require('./section');

const MERGES = Number(process.env.MERGES ?? 30_000);
const BATCH = Number(process.env.BATCH ?? 500);
const ACCOUNT = 'acc_bench_aliases';

/** The baseline: PgUserAliases before 2026-11-30, merges only (what this bench sends), as it was. */
class WholeAccount {
  constructor(pool) {
    this.pool = pool;
  }

  async applyChanges(changes) {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO user_merges (account_id, from_user_id, into_user_id, merged_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
        [changes.map((m) => m.accountId), changes.map((m) => m.from.userId), changes.map((m) => m.user.userId), changes.map((m) => m.at)],
      );
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [7_315_002, ACCOUNT]);
      const { rows: merges } = await client.query(
        'SELECT from_user_id, into_user_id, (extract(epoch FROM merged_at) * 1000)::float8 AS at FROM user_merges WHERE account_id = $1',
        [ACCOUNT],
      );
      const { rows: deletions } = await client.query(
        'SELECT user_id, (extract(epoch FROM deleted_at) * 1000)::float8 AS at FROM user_deletions WHERE account_id = $1',
        [ACCOUNT],
      );
      const resolved = resolveAliases(
        merges.map((row) => ({ from: row.from_user_id, into: row.into_user_id, at: row.at })),
        deletions.map((row) => ({ user: row.user_id, at: row.at })),
      );
      const open = [...resolved].filter(([, alias]) => alias.closedAt === undefined);
      await client.query('DELETE FROM user_aliases WHERE account_id = $1', [ACCOUNT]);
      await client.query(
        `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at)
         SELECT $1, user_id, survivor, to_timestamp(at / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[]) AS a(user_id, survivor, at)`,
        [ACCOUNT, open.map(([user]) => user), open.map(([, alias]) => alias.survivor), open.map(([, alias]) => alias.mergedAt)],
      );
    });
  }
}

const batches = Array.from({ length: Math.ceil(MERGES / BATCH) }, (_, b) =>
  Array.from({ length: Math.min(BATCH, MERGES - b * BATCH) }, (_, i) => {
    const n = b * BATCH + i;
    const at = new Date(Date.UTC(2026, 10, 1) + n).toISOString();
    return { schemaVersion: 1, accountId: ACCOUNT, kind: 'merged', user: { id: `k-user-${n}`, userId: `user-${n}` }, from: { id: `k-cus-${n}`, userId: `customer-${n}` }, at };
  }),
);

/** Seconds for all batches, ms per batch over the last tenth, and the aliases it ended with. */
async function run(make) {
  const schema = uniqueId('usage_aliases').toLowerCase();
  const pool = createPool({ url: STACK.DATABASE_URL, schema, max: 2 });
  try {
    await migrate(pool, { schema, dir: MIGRATIONS_DIR });
    const aliases = make(pool);
    const times = [];
    for (const batch of batches) {
      const started = process.hrtime.bigint();
      await aliases.applyChanges(batch);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const last = times.slice(-Math.max(1, Math.floor(times.length / 10)));
    const { rows } = await pool.query('SELECT user_id, survivor_user_id FROM user_aliases WHERE account_id = $1 ORDER BY user_id', [ACCOUNT]);
    return { seconds: times.reduce((a, b) => a + b, 0) / 1000, lastMs: last.reduce((a, b) => a + b, 0) / last.length, aliases: rows };
  } finally {
    await pool.end();
    await dropSchema(schema).catch(() => undefined);
  }
}

async function main() {
  const before = await run((pool) => new WholeAccount(pool));
  const now = await run((pool) => new PgUserAliases({ pool }));
  if (JSON.stringify(before.aliases) !== JSON.stringify(now.aliases) || now.aliases.length !== MERGES) throw new Error('the two ended with different aliases');
  const table = [
    `| ${MERGES.toLocaleString('en-US')} merges in batches of ${BATCH} | all batches, s | a batch at the end, ms |`,
    '|---|---|---|',
    `| every batch recomputes the account's aliases (baseline) | ${before.seconds.toFixed(1)} | ${before.lastMs.toFixed(1)} |`,
    `| every batch recomputes its users' components (the service) | ${now.seconds.toFixed(1)} | ${now.lastMs.toFixed(1)} |`,
    `| ratio | ${(before.seconds / now.seconds).toFixed(1)} | ${(before.lastMs / now.lastMs).toFixed(1)} |`,
  ].join('\n');
  console.log(table);
  writeSection(
    'usage-aliases',
    [
      '### Merges in bulk',
      '',
      `Command: \`pnpm exec tsc -b services/usage && MERGES=${MERGES} BATCH=${BATCH} node bench/usage/aliases.js\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'unknown CPU'}).`,
      `A Stripe import that merges ${MERGES.toLocaleString('en-US')} customers into their users, as usage receives it: \`merged\` changes of one account`,
      `in batches of ${BATCH}, through PgUserAliases; the baseline, in the same run, the recomputation it replaced. Both end with`,
      'the same aliases (checked).',
      '',
      table,
    ],
    'usage-queries',
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
