import { ReplayShare } from './consumer';

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets the share's wait loop look again (it re-checks every 25 ms). */
const aFewChecks = () => new Promise((resolve) => setTimeout(resolve, 120));

describe('ReplayShare: how many replay batches run beside live traffic', () => {
  it('gives a replay every slot while no live batch is handled', async () => {
    const share = new ReplayShare({ slots: 4, liveQuietMs: 0 });
    const gates = Array.from({ length: 4 }, deferred);
    let running = 0;
    const batches = gates.map((gate) => share.replay(async () => void (running++, await gate.promise)));
    await aFewChecks();
    expect(running).toBe(4);
    gates.forEach((gate) => gate.resolve());
    await Promise.all(batches);
  });

  it('keeps a replay to half the slots while a live batch is in flight, and lets it grow again after', async () => {
    const share = new ReplayShare({ slots: 4, liveQuietMs: 0 });
    const live = deferred();
    const liveBatch = share.live(() => live.promise);
    const gates = Array.from({ length: 3 }, deferred);
    let running = 0;
    const batches = gates.map((gate) => share.replay(async () => void (running++, await gate.promise)));
    await aFewChecks();
    expect(running).toBe(2);

    gates[0]!.resolve();
    await aFewChecks();
    expect(running).toBe(3); // one finished, the waiting one took its slot: still two at a time

    live.resolve();
    await liveBatch;
    const more = deferred();
    const extra = share.replay(async () => void (running++, await more.promise));
    await aFewChecks();
    expect(running).toBe(4); // live idle again: three at once now
    [gates[1]!, gates[2]!, more].forEach((gate) => gate.resolve());
    await Promise.all([...batches, extra]);
  });

  it('never takes a slot from live traffic: a live batch starts at once whatever the replay holds', async () => {
    const share = new ReplayShare({ slots: 2, liveQuietMs: 0 });
    const gates = Array.from({ length: 2 }, deferred);
    const batches = gates.map((gate) => share.replay(() => gate.promise));
    await aFewChecks();
    let liveRan = false;
    await share.live(async () => void (liveRan = true));
    expect(liveRan).toBe(true);
    gates.forEach((gate) => gate.resolve());
    await Promise.all(batches);
  });
});
