#!/usr/bin/env node
// Postgres CPU by statement during bench/reprocess's replay: every 20 ms reads pg_stat_activity and each client
// backend's utime+stime from /proc, and charges a backend's CPU since the previous sample to the statement it shows
// now (its current one while active, its last one, marked [idle] or [idle in transaction], otherwise). Sampled, so
// approximate, but it names what Postgres spends the replay on, whichever process sent it. Linux only; beside the
// bench, e.g.
//   flock -o /tmp/kana-bench.lock bash -c 'NODE_PATH=packages/platform/node_modules node bench/reprocess/statement-cpu.js /tmp/r.log & \
//     RUNS=1 STORED=1000000 LIVE=200000 bench/reprocess/run.sh > /tmp/r.log; wait'
'use strict';
const { Client } = require('pg');
const fs = require('node:fs');
const { cpuSeconds } = require('../gateway/common');

const log = process.argv[2];

(async () => {
  const client = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  const last = new Map();
  const byStatement = new Map();
  let started;
  for (;;) {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    if (started === undefined && text.includes('unmapped in usage')) started = Date.now();
    if (started !== undefined && text.includes('reprocess: ')) break;
    if (started !== undefined) {
      const { rows } = await client.query(
        `SELECT pid, state, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      for (const row of rows) {
        const now = cpuSeconds(row.pid);
        if (Number.isNaN(now)) continue; // the backend ended
        const before = last.get(row.pid);
        if (before !== undefined) {
          const key = (row.state === 'active' ? '' : `[${row.state}] `) + row.query;
          byStatement.set(key, (byStatement.get(key) ?? 0) + now - before);
        }
        last.set(row.pid, now);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const total = [...byStatement.values()].reduce((a, b) => a + b, 0);
  console.log(`replay window ${((Date.now() - started) / 1000).toFixed(1)} s, client backends' CPU ${total.toFixed(1)} s; by statement (s):`);
  for (const [statement, seconds] of [...byStatement].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(seconds.toFixed(2).padStart(7), statement);
  await client.end();
})();
