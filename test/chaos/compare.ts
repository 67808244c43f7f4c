import type { Actual } from './observe';
import type { Expected } from './oracle';

// Expected vs actual, as the figures RELIABILITY.md reports. Each mismatch
// keeps a few examples so a failing run says what went wrong, not just how much.

export interface Verdict {
  /** Acknowledged messageIds whose effect is missing: a usage record, or their place in the unmapped list. */
  lost: number;
  /** Extra rows for a (account, messageId, feature) that must have exactly one. */
  doubleCounted: number;
  /** Rows for a (account, messageId, feature) that should have none (not a duplicate: a wrong mapping). */
  unexpectedRecords: number;
  /** Records with the right key but another delta or userId. */
  wrongRecords: number;
  /** (account, userId, feature) totals of GET /v1/usage that differ from the expected ones. */
  wrongTotals: number;
  /** Users missing, with a field other than the newest one sent, or not expected at all. */
  wrongUsers: number;
  missingUsers: number;
  unexpectedUnmapped: number;
  missingUnmapped: number;
  examples: string[];
}

export function compare(expected: Expected, actual: Actual, maybe: Set<string>): Verdict {
  const v: Verdict = { lost: 0, doubleCounted: 0, unexpectedRecords: 0, wrongRecords: 0, wrongTotals: 0, wrongUsers: 0, missingUsers: 0, unexpectedUnmapped: 0, missingUnmapped: 0, examples: [] };
  const example = (line: string) => v.examples.length < 30 && v.examples.push(line);
  const lost = new Set<string>();

  for (const [key, record] of expected.records) {
    const found = actual.records.get(key);
    if (!found) {
      lost.add(`${record.account}|${record.messageId}`);
      example(`lost record ${key} (user ${record.userId}, delta ${record.delta})`);
      continue;
    }
    if (found.delta / found.n !== record.delta || found.userId !== record.userId) {
      v.wrongRecords += 1;
      example(`record ${key}: delta ${found.delta / found.n}, user ${found.userId}; expected ${record.delta}, ${record.userId}`);
    }
  }
  for (const [key, found] of actual.records) {
    if (found.n > 1) {
      v.doubleCounted += found.n - 1;
      example(`double counted ${key}: ${found.n} rows`);
    }
    const [account, messageId] = key.split('|');
    if (!expected.records.has(key) && !maybe.has(`${account}|${messageId}`)) {
      v.unexpectedRecords += 1;
      example(`unexpected record ${key}`);
    }
  }

  for (const [account, totals] of expected.totals) {
    const got = actual.totals.get(account) ?? new Map<string, number>();
    for (const key of new Set([...totals.keys(), ...got.keys()])) {
      if ((totals.get(key) ?? 0) !== (got.get(key) ?? 0)) {
        v.wrongTotals += 1;
        example(`account ${account} total ${key}: ${got.get(key) ?? 0}, expected ${totals.get(key) ?? 0}`);
      }
    }
  }

  for (const [account, users] of expected.users) {
    const got = actual.users.get(account) ?? new Map();
    for (const [userId, want] of users) {
      const user = got.get(userId);
      if (!user) {
        v.missingUsers += 1;
        example(`account ${account} user ${userId} missing`);
        continue;
      }
      const fields = ['name', 'email', 'billingId'] as const;
      const bad = fields.filter((field) => (want[field] ?? null) !== user[field]);
      if (bad.length > 0) {
        v.wrongUsers += 1;
        example(`account ${account} user ${userId}: ${bad.map((f) => `${f} ${JSON.stringify(user[f])} expected ${JSON.stringify(want[f] ?? null)}`).join(', ')}`);
      }
    }
    for (const userId of got.keys()) {
      if (!users.has(userId)) {
        v.wrongUsers += 1;
        example(`account ${account} unexpected user ${userId}`);
      }
    }
  }

  for (const account of new Set([...expected.unmapped.keys(), ...actual.unmapped.keys()])) {
    const want = expected.unmapped.get(account) ?? new Set<string>();
    const got = actual.unmapped.get(account) ?? new Set<string>();
    for (const messageId of want) {
      if (got.has(messageId)) continue;
      v.missingUnmapped += 1;
      lost.add(`${account}|${messageId}`);
      example(`account ${account} unmapped ${messageId} missing`);
    }
    for (const messageId of got) {
      if (want.has(messageId) || maybe.has(`${account}|${messageId}`)) continue;
      v.unexpectedUnmapped += 1;
      example(`account ${account} unexpected unmapped ${messageId}`);
    }
  }
  v.lost = lost.size + v.missingUsers;
  return v;
}
