import { schedule } from './faults';

// The fault schedule decides what a chaos run proves: every service must be
// killed at least once at CI size, and the rules service while the late rules'
// reprocess jobs run, or the run says nothing about those crashes.

const plan = { kills: 4, kafkaRestarts: 1, postgresRestarts: 1, redisFlushes: 1, scales: 1 };

describe('chaos fault schedule', () => {
  it('kills usage, identity, rules and the gateway once each at CI size', () => {
    const kills = schedule(7, plan, 0.5).filter((fault) => fault.kind.startsWith('kill'));
    expect(kills.map((fault) => fault.kind).sort()).toEqual(['kill gateway', 'kill identity', 'kill rules', 'kill usage']);
  });

  it('kills rules first where the late rules are created, and the others at drawn points', () => {
    const faults = schedule(7, { ...plan, kills: 12 }, 0.63);
    const rules = faults.filter((fault) => fault.kind === 'kill rules');
    expect(rules).toHaveLength(3);
    expect(rules.filter((fault) => fault.midway)).toEqual([{ kind: 'kill rules', at: 0.63, midway: true }]);
    expect(faults.filter((fault) => fault.kind === 'kill gateway')).toHaveLength(3);
  });

  it('is in load order and the same for the same seed, so a failing run can be replayed', () => {
    const faults = schedule(11, plan, 0.4);
    expect(faults.map((fault) => fault.at)).toEqual([...faults.map((fault) => fault.at)].sort((a, b) => a - b));
    expect(schedule(11, plan, 0.4)).toEqual(faults);
    expect(faults.every((fault) => fault.at > 0 && fault.at < 1)).toBe(true);
  });
});
