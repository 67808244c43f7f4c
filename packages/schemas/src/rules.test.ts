import { SNAPSHOT_HEAD_BYTES, snapshotJson, type RulesSnapshot } from './rules';

describe('snapshotJson', () => {
  // SNAPSHOT_VERSION_LUA, as a JavaScript regular expression: what the Redis scripts of rules and usage match.
  const head = /^\{"accountId":"[^"]*","version":(\d+),/;

  it('writes account and version first, whatever order the object has, within the bytes the scripts read', () => {
    const snapshot = { rules: [], features: [{ id: 'seats', name: 'Seats' }], version: 42, accountId: 'acc_3f9a2c' } as RulesSnapshot;
    const json = snapshotJson(snapshot);
    expect(head.exec(json.slice(0, SNAPSHOT_HEAD_BYTES))?.[1]).toBe('42');
    expect(JSON.parse(json)).toEqual(snapshot);
  });
});
