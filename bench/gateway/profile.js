#!/usr/bin/env node
// Where the gateway's CPU goes under the bench's load: starts the gateway with
// --cpu-prof, drives one scenario with autocannon, stops it (the profile is
// written on exit) and prints the top functions and packages by self time.
//
//   pnpm exec tsc -b services/gateway && node bench/gateway/profile.js [single|batch] [seconds] [profile-dir]
//
// The .cpuprofile opens in Chrome DevTools or speedscope for a flame graph.
'use strict';
const { fork, execFileSync } = require('node:child_process');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const autocannon = require('autocannon');
const { brokerPid, cpuSeconds, metricValue, threadCpuSeconds, trackEvent } = require('./common');

const root = join(__dirname, '..', '..');
const testing = createRequire(join(root, 'services', 'gateway', 'package.json'))('@kana/platform/testing');
// single | batch | rate:<req/s> (one event per request at a fixed overall rate, as the bench's half-rate run)
const MODE = process.argv[2] ?? 'single';
const RATE = MODE.startsWith('rate:') ? Number(MODE.slice(5)) : undefined;
const SECONDS = Number(process.argv[3] ?? 10);
const DIR = process.argv[4] ?? fs.mkdtempSync(join(os.tmpdir(), 'gateway-prof-'));
const PORT = 18182;
// GATEWAY_NODE_ARGS='--trace-gc': more node flags for the gateway, its stdout shown.
// NO_PROF=1: only the figures (req/s, CPU per request, batch sizes), without profiler overhead.
const CPU_PROF = !process.env.NO_PROF;

/** Self time by function and by package, from a V8 .cpuprofile. */
function summarise(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const pkgs = new Map();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^file:\/\/.*?\/(services|packages)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const pkg = url === '' ? functionName : url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : (url.match(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((@[^/]+\/)?[^/]+)/)?.[1] ?? where.split('/').slice(0, 2).join('/'));
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
  }
  // Inclusive time: every function on a sample's stack, counted once per sample.
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const incl = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at).callFrame;
      const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^file:\/\/.*?\/(services|packages)\//, '$1/')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  // Buckets, in priority order: the first whose pattern matches any frame of a sample's stack gets its time.
  const BUCKETS = [
    ['kafkajs (produce encode, socket, responses)', /kafkajs/],
    ['normalise + validate', /domain\/|normalizeEvent/],
    ['encode (JSON.stringify into the wire format)', /encodeParsed|kafka-event-sink/],
    ['JSON.parse of the body', /secure-json-parse/],
    ['auth', /auth\//],
    ['metrics', /prom-client|metrics/],
    ['logging', /pino/],
    ['node http + sockets', /node:_http|node:net|stream_base|writev|writeBuffer|node:internal\/streams/],
    ['fastify (routing, hooks, reply)', /fastify|find-my-way|avvio/],
  ];
  const buckets = new Map();
  for (const [id, us] of self) {
    const frames = [];
    for (let at = id; at !== undefined; at = parent.get(at)) frames.push(`${byId.get(at).callFrame.url} ${byId.get(at).callFrame.functionName}`);
    const bucket = BUCKETS.find(([, rx]) => frames.some((frame) => rx.test(frame)))?.[0];
    const name = bucket ?? (['(idle)', '(garbage collector)', '(program)'].includes(byId.get(id).callFrame.functionName) ? byId.get(id).callFrame.functionName : 'other');
    buckets.set(name, (buckets.get(name) ?? 0) + us);
  }
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
  return `total sampled ${(total / 1e6).toFixed(1)} s\n\nby bucket:\n${top(buckets, 20)}\n\nby package:\n${top(pkgs, 25)}\n\nby function (self):\n${top(fns, 40)}\n\nby function (inclusive):\n${top(incl, 60)}\n`;
}

async function main() {
  if (process.env.PROFILE_FILE) return void process.stdout.write(summarise(process.env.PROFILE_FILE)); // re-read a profile
  const env = { ...process.env, ...testing.testEnv('gateway'), LOG_LEVEL: 'warn', KAFKA_PARTITIONS: '6', PORT: String(PORT) };
  const { apiKey } = JSON.parse(execFileSync('node', [join(root, 'services/gateway/dist/cli.js'), 'accounts', 'create', '--name', 'Prof', '--json'], { env }));
  const gateway = fork(join(root, 'services/gateway/dist/main.js'), [], { env, execArgv: [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${DIR}`] : []), ...(process.env.GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [])], stdio: ['ignore', process.env.GATEWAY_NODE_ARGS ? 'inherit' : 'ignore', 'inherit', 'ipc'] });
  try {
    await testing.waitFor(async () => (await fetch(`http://127.0.0.1:${PORT}/readyz`).catch(() => ({ ok: false }))).ok, { timeoutMs: 60_000, what: 'gateway' });
    let i = 0;
    // Warm-up as in run.js (JIT, connections, key cache), outside the figures and the CPU counts.
    await autocannon({ url: `http://127.0.0.1:${PORT}/v1/track`, connections: 64, duration: 3, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}` }, requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(trackEvent(i++)) }) }] });
    const broker = brokerPid();
    const pids = { gateway: gateway.pid, 'bench (autocannon)': process.pid, ...(broker ? { kafka: broker } : {}) };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
    const threadsBefore = threadCpuSeconds(gateway.pid);
    const batch = MODE === 'batch';
    const result = await autocannon({
      url: `http://127.0.0.1:${PORT}/v1/${batch ? 'batch' : 'track'}`,
      connections: batch ? 16 : 64,
      duration: SECONDS,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}` },
      ...(RATE ? { overallRate: RATE } : {}),
      requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(batch ? { batch: Array.from({ length: 100 }, (_, j) => trackEvent(i * 100 + j)) } : trackEvent(i++)) }) }],
    });
    process.stdout.write(`${MODE}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx + result.errors}\n`);
    const metrics = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
    const value = (name) => metricValue(metrics, name);
    process.stdout.write(`  ${(value('kana_producer_batch_messages_sum') / value('kana_producer_batch_messages_count')).toFixed(1)} messages per produce request, ack wait ${((1000 * value('kana_producer_ack_seconds_sum')) / value('kana_producer_ack_seconds_count')).toFixed(1)} ms\n`);
    // Server side: share of requests whose encode + acks=all took longer than each bucket bound.
    const buckets = [...metrics.matchAll(/^kana_gateway_produce_seconds_bucket\{([^}]*)\} (\d+)$/gm)]
      .filter((m) => m[1].includes('outcome="stored"'))
      .map((m) => [m[1].match(/le="([^"]+)"/)[1], Number(m[2])]);
    const stored = buckets.at(-1)?.[1] ?? 0;
    process.stdout.write(`  gateway produce time (server side) over: ${buckets.filter(([le]) => ['0.005', '0.01', '0.02', '0.05'].includes(le)).map(([le, n]) => `${Number(le) * 1000} ms ${((100 * (stored - n)) / Math.max(1, stored)).toFixed(2)}%`).join(', ')}\n`);
    for (const [name, pid] of Object.entries(pids)) {
      const used = cpuSeconds(pid) - cpuBefore[name];
      process.stdout.write(`  ${name}: ${used.toFixed(1)} CPU s (${((100 * used) / SECONDS).toFixed(0)}% of a core), ${((used * 1e6) / result.requests.total).toFixed(0)} µs per request\n`);
    }
    // The gateway's threads by name: "main", "node" (a worker thread, e.g. the producer's), libuv's pool, V8's.
    const threads = Object.entries(threadCpuSeconds(gateway.pid))
      .map(([name, seconds]) => [name, seconds - (threadsBefore[name] ?? 0)])
      .filter(([, used]) => used >= 0.05)
      .sort((a, b) => b[1] - a[1]);
    process.stdout.write(`  gateway threads: ${threads.map(([name, used]) => `${name} ${((used * 1e6) / result.requests.total).toFixed(0)} µs`).join(', ')} per request\n`);
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((resolve) => gateway.once('exit', resolve));
    await testing.dropSchema(env.DATABASE_SCHEMA);
    await testing.deleteTopicsWithPrefix(env.TOPIC_PREFIX);
  }
  if (!CPU_PROF) return;
  const file = fs.readdirSync(DIR).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(DIR, name)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  process.stdout.write(`profile: ${file}\n\n${summarise(file)}`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
