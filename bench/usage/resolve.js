#!/usr/bin/env node
// What an account's number of features and rules costs usage per event: resolveEvent (the service's
// code, from services/usage/dist) against a scan of every feature and rule in snapshot order (what it
// did before it kept an index per snapshot), in the same run, for accounts of 10 to 10,000 of each.
// Prints a table and writes it to BENCHMARKS.md (the usage section).
//
//   pnpm exec tsc -b services/usage && node bench/usage/resolve.js
'use strict';
const { writeSection } = require('./section');
const { join } = require('node:path');
const root = join(__dirname, '..', '..');
const { resolveEvent } = require(join(root, 'services', 'usage', 'dist', 'domain', 'resolve.js'));
const { matchesCondition, namedFeatureId, parseDelta } = require(join(root, 'packages', 'schemas', 'dist'));

const SIZES = [10, 100, 1000, 10000];
const EVENTS = 20000;

/** The baseline: resolveEvent as it was before the index (as at 4b30596), looking at every feature and rule for every event. */
function byScanning(event, snapshot) {
  const rawDelta = event.properties.delta;
  const delta = parseDelta(rawDelta);
  if (delta === undefined) return { kind: 'invalid', reason: `properties.delta is not a finite number: ${JSON.stringify(rawDelta)?.slice(0, 100)}` };
  const featureId = namedFeatureId(event.properties);
  if (featureId !== undefined) {
    const known = snapshot.features.some((feature) => feature.id === featureId);
    return known ? { kind: 'mapped', delta, features: [{ featureId, ruleId: null }] } : { kind: 'unmapped', reason: 'unknown_feature' };
  }
  const hits = new Map();
  for (const rule of snapshot.rules) {
    if (rule.eventName !== event.event || hits.has(rule.featureId)) continue;
    if (rule.conditions.every((condition) => matchesCondition(event.properties, condition))) hits.set(rule.featureId, { featureId: rule.featureId, ruleId: rule.id });
  }
  if (hits.size === 0) return { kind: 'unmapped', reason: 'no_rule' };
  return { kind: 'mapped', delta, features: [...hits.values()] };
}

/** n features and n rules over n/2 event names, two conditions each, as an account with many metered endpoints. */
function snapshotOf(n) {
  return {
    accountId: 'acc',
    version: 1,
    features: Array.from({ length: n }, (_, i) => ({ id: `feature_${i}`, name: `Feature ${i}` })),
    rules: Array.from({ length: n }, (_, i) => ({
      id: `rule-${i}`,
      featureId: `feature_${i}`,
      eventName: `Endpoint ${i % Math.max(1, n / 2)} Called`,
      conditions: [
        { property: 'plan', operator: 'eq', value: 'pro' },
        { property: 'units', operator: 'gte', value: 1 },
      ],
    })),
  };
}

function usPerEvent(fn, events, snapshot) {
  for (let i = 0; i < 2000; i++) fn(events[i % events.length], snapshot);
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) fn(events[i % events.length], snapshot);
  return Number(process.hrtime.bigint() - started) / 1e3 / EVENTS;
}

const rows = [];
for (const n of SIZES) {
  const snapshot = snapshotOf(n);
  // Half by rules (an event name somewhere in the middle of the snapshot), half naming their feature.
  const events = Array.from({ length: 100 }, (_, i) =>
    i % 2 === 0
      ? { event: `Endpoint ${(i * 7) % Math.max(1, n / 2)} Called`, properties: { plan: 'pro', units: 3 } }
      : { event: 'Message Sent', properties: { featureId: `feature_${(i * 13) % n}` } },
  );
  // Three alternating rounds each; the best of each is the figure (the machine is shared).
  const scan = [];
  const indexed = [];
  for (let round = 0; round < 3; round++) {
    scan.push(usPerEvent(byScanning, events, snapshot));
    indexed.push(usPerEvent(resolveEvent, events, snapshot));
  }
  rows.push({ n, kb: Math.round(JSON.stringify(snapshot).length / 1024), scan: Math.min(...scan), indexed: Math.min(...indexed) });
}

const command = 'pnpm exec tsc -b services/usage && node bench/usage/resolve.js';
const table = [
  '| features and rules of the account | snapshot | scanning them, us/event (baseline) | resolveEvent, us/event | ratio scan / resolveEvent |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.n.toLocaleString('en-US')} each | ${r.kb} KB | ${r.scan.toFixed(2)} | ${r.indexed.toFixed(2)} | ${(r.scan / r.indexed).toFixed(1)} |`),
].join('\n');
console.log(table);

writeSection(
  'usage-resolve',
  [
    '### Per event: an account with many features and rules',
    '',
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}, ${require('node:os').cpus()[0]?.model ?? 'unknown CPU'}).`,
    `Mapping one event (half by rules, half by \`properties.featureId\`; ${EVENTS.toLocaleString('en-US')} events, best of three alternating rounds):`,
    "usage's `resolveEvent`, which indexes each snapshot once (feature ids, rules by event name), against scanning every",
    'feature and rule in snapshot order, as it did before, in the same run.',
    '',
    table,
  ],
  'usage',
);
