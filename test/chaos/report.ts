import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../system/processes';
import type { Verdict } from './compare';
import type { FaultRecord } from './faults';
import type { SendStats } from './sender';

// RELIABILITY.md: one section per size (the last run of each), so the CI run
// and the full run never overwrite each other's figures.

export interface Figures {
  size: string;
  command: string;
  seed: number;
  accounts: number;
  users: number;
  distinct: number;
  deliveries: number;
  acknowledged: number;
  send: SendStats;
  faults: FaultRecord[];
  unexpectedExits: string[];
  settled: boolean;
  jobsStillRunning: string[];
  /** Messages on the system's DLQ: with a workload of valid events, each is an event not counted. */
  deadLettered: number;
  settleMs: number;
  loadMs: number;
  totalMs: number;
  expectedRecords: number;
  storedRecords: number;
  verdict: Verdict;
}

export function table(f: Figures): string {
  const v = f.verdict;
  const byKind = new Map<string, number>();
  for (const fault of f.faults) byKind.set(fault.kind, (byKind.get(fault.kind) ?? 0) + 1);
  const retries = Object.entries(f.send.retries).map(([why, n]) => `${n}× ${why}`).join(', ') || 'none';
  const rows: [string, string][] = [
    ['events generated (distinct messageIds)', String(f.distinct)],
    ['deliveries sent (10% of messageIds twice)', String(f.deliveries)],
    ['acknowledged (distinct messageIds with a 2xx)', String(f.acknowledged)],
    ['rejected (4xx, per delivery)', String(f.send.rejectedDeliveries)],
    ['requests given up (no 2xx/4xx before the deadline)', String(f.send.gaveUp)],
    ['HTTP attempts (retries by cause)', `${f.send.attempts} (${retries})`],
    ['**lost** (acknowledged, not counted/stored)', `**${v.lost}**`],
    ['**double counted** (extra usage rows)', `**${v.doubleCounted}**`],
    ['usage records expected / stored', `${f.expectedRecords} / ${f.storedRecords}`],
    ['unexpected usage records', String(v.unexpectedRecords)],
    ['records with a wrong delta or user', String(v.wrongRecords)],
    ['wrong per-user per-feature totals (GET /v1/usage)', String(v.wrongTotals)],
    ['users missing / wrong (GET /v1/users)', `${v.missingUsers} / ${v.wrongUsers}`],
    ['unmapped missing / unexpected (GET /v1/events/unmapped)', `${v.missingUnmapped} / ${v.unexpectedUnmapped}`],
    ['faults injected', [...byKind].map(([kind, n]) => `${n}× ${kind}`).join(', ')],
    ['service exits nobody asked for (restarted by the supervisor)', f.unexpectedExits.length === 0 ? '0' : `${f.unexpectedExits.length}: ${f.unexpectedExits.join(', ')}`],
    ['**dead-lettered** (valid events a service gave up on)', `**${f.deadLettered}**`],
    ['reprocess jobs still running at the end', f.jobsStillRunning.length === 0 ? '0' : `${f.jobsStillRunning.length}: ${f.jobsStillRunning.join('; ')}`],
    ['settled (lag 0, no running job, counts stable)', `${f.settled ? 'yes' : 'NO'} after ${(f.settleMs / 1000).toFixed(0)} s`],
    ['duration: load / total', `${(f.loadMs / 1000).toFixed(0)} s / ${(f.totalMs / 1000).toFixed(0)} s`],
  ];
  return ['| figure | value |', '|---|---|', ...rows.map(([k, val]) => `| ${k} | ${val} |`)].join('\n');
}

export function section(f: Figures): string {
  const examples = f.verdict.examples.length > 0 ? `\n\nFirst mismatches:\n\n${f.verdict.examples.map((e) => `- ${e}`).join('\n')}` : '';
  return [
    `## ${f.size === 'full' ? 'Full size' : 'CI size'}`,
    '',
    `\`${f.command}\` — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, seed ${f.seed}, ${f.accounts} accounts × ${f.users} users.`,
    '',
    table(f) + examples,
    '',
  ].join('\n');
}

const HEADER = `# Reliability

Figures of the chaos run (\`test/chaos/\`): a seeded workload of identify and track
events from several accounts, 10% of messageIds delivered twice and some identifies
out of order, sent to the gateway like Segment does (the same request again until a
2xx or a 4xx), while a controller kill -9s usage, identity, rules and gateway
instances, restarts Kafka and Postgres, deletes the system's Redis keys and
scales usage 1 → 3 → 1. The expected end state is computed from the acknowledged
events alone and compared with the admin API and with the usage rows in Postgres.
Each section is rewritten by the last run of its size; a run fails when anything
is lost or double counted.
`;

export function writeReliability(f: Figures): string {
  const file = join(REPO, 'RELIABILITY.md');
  const start = `<!-- chaos:${f.size} -->`;
  const end = `<!-- /chaos:${f.size} -->`;
  const block = `${start}\n${section(f)}${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : `${HEADER}\n<!-- chaos:full -->\n<!-- /chaos:full -->\n\n<!-- chaos:ci -->\n<!-- /chaos:ci -->\n`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  return file;
}
