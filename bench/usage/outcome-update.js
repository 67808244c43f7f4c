#!/usr/bin/env node
// Where a reprocessed event's new outcome is written (usage migration 003), measured on the statement alone:
// the outcome in `events` (the layout before 003: the whole event row rewritten) against the outcome in the
// narrow message_keys row (found by ctid, pages filled to FF percent), on N stored events in each layout, in
// batches of 6,000 as usage's replay takes them, interleaved batch by batch so both see the same machine.
//
//   node bench/usage/outcome-update.js          (N=1000000 ROUNDS=24 FF=80; a scratch schema in kana_test)
'use strict';
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Client } = createRequire(join(__dirname, '..', '..', 'services', 'usage', 'package.json'))('pg');
const N = Number(process.env.N ?? 1000000), B = 6000, ROUNDS = Number(process.env.ROUNDS ?? 20);
const ISO = (c) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
(async () => {
  const c = new Client({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/kana_test' });
  await c.connect();
  for (const s of ['mk_old', 'mk_new']) {
    await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE; CREATE SCHEMA ${s}`);
    const extra = s === 'mk_new' ? ', outcome text NOT NULL, reason text, rules_version int NOT NULL' : '';
    const evExtra = s === 'mk_old' ? `, outcome text NOT NULL, reason text, rules_version int NOT NULL` : '';
    await c.query(`SET search_path = ${s};
      CREATE TABLE message_keys (account_id text NOT NULL, message_id text NOT NULL, event_time timestamptz NOT NULL${extra}, PRIMARY KEY (account_id, message_id))${s === 'mk_new' ? ' WITH (fillfactor = ' + (process.env.FF ?? 80) + ')' : ''};
      CREATE TABLE events (account_id text NOT NULL, message_id text NOT NULL, event_time timestamptz NOT NULL, user_id text NOT NULL, event_name text NOT NULL,
        properties jsonb NOT NULL, received_at timestamptz NOT NULL${evExtra}, stored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (account_id, message_id, event_time)) PARTITION BY RANGE (event_time);
      CREATE TABLE events_default PARTITION OF events DEFAULT;
      INSERT INTO message_keys SELECT 'acc', 'stored-' || g, timestamptz '2026-11-01' + g * interval '1 second'${s === 'mk_new' ? ", 'unmapped', 'no_rule', 0" : ''} FROM generate_series(1, ${N}) g;
      INSERT INTO events (account_id, message_id, event_time, user_id, event_name, properties, received_at${s === 'mk_old' ? ', outcome, reason, rules_version' : ''})
        SELECT 'acc', 'stored-' || g, timestamptz '2026-11-01' + g * interval '1 second', 'user-' || (g % 1000), 'Message Sent', '{"plan": "pro", "channel": "sms", "delta": 1}', now()${s === 'mk_old' ? ", 'unmapped', 'no_rule', 0" : ''} FROM generate_series(1, ${N}) g;
      ANALYZE message_keys; ANALYZE events;`);
  }
  await c.query('CHECKPOINT');
  const KEY = `SELECT k.account_id, k.message_id, k.event_time FROM message_keys k WHERE k.account_id = u.account_id AND k.message_id = u.message_id LIMIT 1`;
  const sql = {
    mk_old: `UPDATE events e SET outcome = u.outcome, reason = u.reason, rules_version = u.rules_version
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(account_id, message_id, outcome, reason, rules_version)
     CROSS JOIN LATERAL (${KEY}) k
     WHERE e.account_id = k.account_id AND e.message_id = k.message_id AND e.event_time = k.event_time
       AND e.outcome = 'unmapped' AND e.rules_version <= u.rules_version
     RETURNING e.account_id, e.message_id, ${ISO('e.event_time')} AS event_time, e.outcome, e.reason, e.rules_version, true AS upgraded`,
    mk_new: `UPDATE message_keys m SET outcome = u.outcome, reason = u.reason, rules_version = u.rules_version
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(account_id, message_id, outcome, reason, rules_version)
     CROSS JOIN LATERAL (SELECT k.ctid FROM message_keys k WHERE k.account_id = u.account_id AND k.message_id = u.message_id LIMIT 1) k
     WHERE m.ctid = k.ctid AND m.outcome = 'unmapped' AND m.rules_version <= u.rules_version
     RETURNING m.account_id, m.message_id, ${ISO('m.event_time')} AS event_time, m.outcome, m.reason, m.rules_version, true AS upgraded`,
  };
  // The walk sends events in stored order, spread over 6 partitions: a batch is every 6th event of a run of 36k.
  const order = []; for (let i = 1; i <= N; i++) order.push(i);
  const totals = { mk_old: 0, mk_new: 0 }, wal = { mk_old: 0, mk_new: 0 };
  const lsn = async () => (await c.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l;
  const diff = async (a, b) => Number((await c.query('SELECT pg_wal_lsn_diff($2, $1) AS d', [a, b])).rows[0].d);
  for (let r = 0; r < ROUNDS; r++) {
    const ids = []; for (let k = 0; k < B; k++) ids.push(`stored-${r * B * 6 + k * 6 + 1}`);
    for (const s of r % 2 ? ['mk_new', 'mk_old'] : ['mk_old', 'mk_new']) {
      await c.query(`SET search_path = ${s}`);
      const l0 = await lsn();
      const t = process.hrtime.bigint();
      await c.query('BEGIN');
      const res = await c.query(sql[s], [ids.map(() => 'acc'), ids, ids.map(() => 'mapped'), ids.map(() => null), ids.map(() => 3)]);
      await c.query('COMMIT');
      totals[s] += Number(process.hrtime.bigint() - t) / 1e6;
      wal[s] += await diff(l0, await lsn());
      if (res.rowCount !== B) throw new Error(`${s}: ${res.rowCount} rows`);
    }
  }
  const label = { mk_old: 'outcome in events (before 003)', mk_new: `outcome in message_keys (fillfactor ${process.env.FF ?? 80})` };
  for (const s of ['mk_old', 'mk_new']) {
    console.log(`${label[s]}: ${(totals[s] / ROUNDS).toFixed(1)} ms per batch of ${B}, ${((1000 * totals[s]) / ROUNDS / B).toFixed(2)} us and ${Math.round(wal[s] / ROUNDS / B)} bytes of WAL an event`);
  }
  for (const s of ['mk_old', 'mk_new']) await c.query(`DROP SCHEMA ${s} CASCADE`);
  await c.end();
})().catch((e) => { console.error(e); process.exit(1); });
