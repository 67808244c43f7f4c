#!/usr/bin/env node
// Gateway throughput and latency with acks=all, against a same-run baseline:
// a bare node:http server that parses the JSON body and answers 200.
//
//   pnpm exec tsc -b services/gateway && node bench/gateway/run.js [seconds] [runs]
//
// With runs > 1 the whole sequence (fresh gateway, baseline and topics each
// time) is repeated and every run is written, so the spread on this shared
// machine is visible; the detailed tables are the run with the median ratio.
//
// Scenarios (autocannon, 64 connections): one realistic track event per
// request, batches of 100, and one event per request at half the gateway's
// maximum rate (for p99). For attribution, one event per request also against
// the gateway's HTTP app with a producer that acknowledges at once
// (no-kafka-server.js): what the gateway's own code costs, Kafka aside. Each service runs in its own process, like in
// production. Needs the local stack; uses kana_test with a throwaway schema
// and topic prefix, removed at the end. Writes the Gateway section of BENCHMARKS.md.
'use strict';
const { fork, execFileSync } = require('node:child_process');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const autocannon = require('autocannon');
const { brokerPid, cpuSeconds, metricValue, trackEvent } = require('./common');

const root = join(__dirname, '..', '..');
const testing = createRequire(join(root, 'services', 'gateway', 'package.json'))('@kana/platform/testing');
const SECONDS = Number(process.argv[2] ?? 10);
const RUNS = Number(process.argv[3] ?? 1);
const CONNECTIONS = 64;

async function start(script, env, port) {
  const child = fork(script, [], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await testing.waitFor(async () => (await fetch(`http://127.0.0.1:${port}${script.includes('baseline') ? '/' : '/readyz'}`, { method: script.includes('baseline') ? 'POST' : 'GET', body: script.includes('baseline') ? '{}' : undefined }).catch(() => ({ ok: false }))).ok, { timeoutMs: 60_000, what: script });
  return child;
}

/** Mean coalesced batch size and mean ack time, from the gateway's own /metrics. */
async function producerStats() {
  const text = await (await fetch('http://127.0.0.1:18180/metrics')).text();
  const value = (name) => metricValue(text, name);
  return { messages: value('kana_producer_batch_messages_sum'), batches: value('kana_producer_batch_messages_count'), ackSum: value('kana_producer_ack_seconds_sum'), acks: value('kana_producer_ack_seconds_count') };
}
producerStats.delta = (a, b) => ({
  batchSize: ((b.messages - a.messages) / Math.max(1, b.batches - a.batches)).toFixed(1),
  ackMs: (((b.ackSum - a.ackSum) / Math.max(1, b.acks - a.acks)) * 1000).toFixed(1),
});

function load(url, authorization, body, options = {}) {
  let i = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(body(i++)) }) }],
    ...options,
  });
}

const summary = (result, eventsPerRequest) => ({
  rps: Math.round(result.requests.average),
  eps: Math.round(result.requests.average * eventsPerRequest),
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx + result.errors + result.timeouts,
});

async function runOnce() {
  const env = { ...testing.testEnv('gateway'), LOG_LEVEL: 'warn', KAFKA_PARTITIONS: '6' };
  const cli = (...args) => JSON.parse(execFileSync('node', [join(root, 'services/gateway/dist/cli.js'), ...args, '--json'], { env: { ...process.env, ...env } }));
  const { apiKey } = cli('accounts', 'create', '--name', 'Bench');
  const auth = `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;
  const gateway = await start(join(root, 'services/gateway/dist/main.js'), env, 18180);
  const baseline = await start(join(__dirname, 'baseline-server.js'), {}, 18181);
  const noKafka = await start(join(__dirname, 'no-kafka-server.js'), { ...env, BENCH_API_KEY: apiKey }, 18183);
  const results = {};
  try {
    const single = (i) => trackEvent(i);
    const batch = (i) => ({ batch: Array.from({ length: 100 }, (_, j) => trackEvent(i * 100 + j)) });
    await load('http://127.0.0.1:18180/v1/track', auth, single, { duration: 3 }); // warm-up: JIT, connections, schema ids
    results.baseSingle = summary(await load('http://127.0.0.1:18181/', null, single), 1);
    const before = await producerStats();
    // CPU per request of each process on the machine during the run: where the two cores went.
    const cpu = { gateway: gateway.pid, autocannon: process.pid, broker: brokerPid() };
    const cpuBefore = Object.fromEntries(Object.entries(cpu).map(([name, pid]) => [name, cpuSeconds(pid)]));
    const gwSingle = await load('http://127.0.0.1:18180/v1/track', auth, single);
    results.cpuPerRequest = Object.fromEntries(Object.entries(cpu).map(([name, pid]) => [name, Math.round(((cpuSeconds(pid) - cpuBefore[name]) * 1e6) / gwSingle.requests.total)]));
    results.gwSingle = summary(gwSingle, 1);
    results.producer = producerStats.delta(before, await producerStats());
    await load('http://127.0.0.1:18183/v1/track', auth, single, { duration: 3 });
    results.noKafka = summary(await load('http://127.0.0.1:18183/v1/track', auth, single), 1);
    results.baseBatch = summary(await load('http://127.0.0.1:18181/', null, batch, { connections: 16 }), 100);
    results.gwBatch = summary(await load('http://127.0.0.1:18180/v1/batch', auth, batch, { connections: 16 }), 100);
    const half = Math.max(1, Math.round(results.gwSingle.rps / 2));
    results.gwHalf = summary(await load('http://127.0.0.1:18180/v1/track', auth, single, { overallRate: half }), 1);
    results.half = half;
  } finally {
    gateway.kill('SIGTERM');
    baseline.kill('SIGTERM');
    noKafka.kill('SIGTERM');
    await new Promise((resolve) => gateway.once('exit', resolve));
    await testing.dropSchema(env.DATABASE_SCHEMA);
    await testing.deleteTopicsWithPrefix(env.TOPIC_PREFIX);
  }
  // A run where the gateway answered anything but 2xx measured an outage (Kafka restarted by another test), not the gateway.
  const failed = ['gwSingle', 'gwBatch', 'gwHalf', 'noKafka'].filter((name) => results[name].non2xx > 0);
  if (failed.length > 0) throw new Error(`non-2xx answers during ${failed.join(', ')}: not writing BENCHMARKS.md; run again`);
  results.load = os.loadavg()[0];
  return results;
}

async function main() {
  const runs = [];
  for (let run = 1; run <= RUNS; run++) {
    const r = await runOnce();
    runs.push(r);
    process.stderr.write(`run ${run}/${RUNS}: ratio ${(r.gwSingle.rps / r.baseSingle.rps).toFixed(2)}, p99 at half rate ${r.gwHalf.p99} ms, batches ${r.gwBatch.eps} events/s (load ${r.load.toFixed(1)})\n`);
  }
  write(runs);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
// Hand-written analysis below the generated figures, kept when the section is rewritten.
const NOTES = /<!-- gateway-notes:start -->[\s\S]*?<!-- gateway-notes:end -->\n?/;

function write(runs) {
  const file = join(root, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const notes = current.match(NOTES)?.[0] ?? '';
  const ratio = (run) => run.gwSingle.rps / run.baseSingle.rps;
  const r = [...runs].sort((a, b) => ratio(a) - ratio(b))[Math.floor((runs.length - 1) / 2)];
  const perRun = runs
    .map((run, index) => `| ${index + 1} | ${run.baseSingle.rps} | ${run.gwSingle.rps} | **${ratio(run).toFixed(2)}** | ${run.noKafka.rps} (${(run.noKafka.rps / run.baseSingle.rps).toFixed(2)}) | ${run.half} | **${run.gwHalf.p99}** | ${run.baseBatch.eps} | **${run.gwBatch.eps}** | ${run.producer.batchSize} / ${run.producer.ackMs} | ${run.cpuPerRequest.gateway} / ${run.cpuPerRequest.autocannon} / ${run.cpuPerRequest.broker} | ${run.load.toFixed(1)} |`)
    .join('\n');
  const row = (name, s) => `| ${name} | ${s.rps} | ${s.eps} | ${s.p50} | ${s.p99} | ${s.non2xx} |`;
  const section = `## Gateway

Command: \`pnpm exec tsc -b services/gateway && node bench/gateway/run.js ${SECONDS}${RUNS > 1 ? ` ${RUNS}` : ''}\`

${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), Kafka, the gateway, the baseline and autocannon on the same machine
(load average ${r.load.toFixed(1)} when the run below ended: other work shared the machine, so figures vary between runs).
Each run lasts ${SECONDS} s with ${CONNECTIONS} connections (16 for batches). Realistic Segment track events
(~400 bytes, unique messageId). The gateway: Basic auth through the key cache, normalisation and validation,
registry encoding, produce with acks=all (idempotent producer, coalesced), 200 only after the ack; LOG_LEVEL=warn.
Baseline, same run: a bare node:http server that parses the JSON body and answers 200.

| target | req/s | events/s | p50 ms | p99 ms | non-2xx/errors |
|---|---|---|---|---|---|
${row('baseline, one event per request', r.baseSingle)}
${row('gateway, one event per request', r.gwSingle)}
${row('baseline, batches of 100', r.baseBatch)}
${row('gateway, batches of 100', r.gwBatch)}
${row(`gateway, one event per request at ${r.half} req/s (half the max)`, r.gwHalf)}
${row('for attribution: the gateway without Kafka (producer acknowledges at once), one event per request', r.noKafka)}

| measure | value | target |
|---|---|---|
| ratio gateway / baseline, one event per request | **${(r.gwSingle.rps / r.baseSingle.rps).toFixed(2)}** | ≥ 0.6 |
| ratio gateway / baseline, batches of 100 (events/s) | **${(r.gwBatch.eps / r.baseBatch.eps).toFixed(2)}** | — |
| p99 at half the maximum rate | **${r.gwHalf.p99} ms** | ≤ 15 ms |
| for attribution: ratio of the gateway without Kafka / baseline | ${(r.noKafka.rps / r.baseSingle.rps).toFixed(2)} | — |

During the one-event-per-request run the producer sent ${r.producer.batchSize} messages per produce request on
average, and a send waited ${r.producer.ackMs} ms on average for its acks=all acknowledgement. CPU per request
(/proc, user + system): gateway ${r.cpuPerRequest.gateway} µs, autocannon ${r.cpuPerRequest.autocannon} µs, Kafka broker ${r.cpuPerRequest.broker} µs.
${runs.length > 1 ? `
Every run (${runs.length}, one after the other; the tables above are the run with the median ratio):

| run | baseline req/s | gateway req/s | ratio | without Kafka req/s (ratio) | half rate req/s | p99 ms at half rate | baseline batch events/s | gateway batch events/s | msgs per produce / ack ms | CPU µs per request: gateway / autocannon / broker | load avg |
|---|---|---|---|---|---|---|---|---|---|---|---|
${perRun}

Medians: ratio **${median(runs.map(ratio)).toFixed(2)}**, p99 at half the maximum rate **${median(runs.map((run) => run.gwHalf.p99))} ms**, batches of 100 **${median(runs.map((run) => run.gwBatch.eps))} events/s**, without Kafka ${median(runs.map((run) => run.noKafka.rps / run.baseSingle.rps)).toFixed(2)} of the baseline.
` : ''}${notes ? `\n${notes}` : ''}`;
  // Replace only our own section (up to the next "## " heading or the start marker of another
  // section, which sits above its heading); others' sections are theirs.
  const pattern = /## Gateway\n[\s\S]*?(?=\n## |\n<!-- [a-z]+:start -->|$)/;
  const next = pattern.test(current) ? current.replace(pattern, section.trimEnd() + '\n') : `${current.trimEnd()}\n\n${section}`;
  fs.writeFileSync(file, next);
  process.stdout.write(section);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
