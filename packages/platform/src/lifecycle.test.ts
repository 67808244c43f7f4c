import { createLogger } from './logger';
import { Lifecycle, concurrently, type Component } from './lifecycle';

const logger = createLogger({ name: 'test', level: 'silent' });

/** A component whose stop takes `ms` and records when it began and ended. */
function slow(name: string, ms: number, events: string[], fail = false): Component {
  return {
    name,
    start: async () => void events.push(`start ${name}`),
    stop: async () => {
      events.push(`stopping ${name}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`stopped ${name}`);
      if (fail) throw new Error(`${name} failed to stop`);
    },
  };
}

describe('Lifecycle', () => {
  it('stops in reverse order of start, and a group of components side by side', async () => {
    const events: string[] = [];
    const lifecycle = new Lifecycle(logger);
    lifecycle.add(slow('pool', 1, events));
    lifecycle.add(concurrently('consumers', [slow('a', 30, events), slow('b', 10, events)]));
    await lifecycle.start();
    await lifecycle.stop();
    expect(events).toEqual([
      'start pool', 'start a', 'start b',
      // both consumers begin stopping before either has finished, and the pool closes last
      'stopping a', 'stopping b', 'stopped b', 'stopped a',
      'stopping pool', 'stopped pool',
    ]);
  });

  it('stops every member of a group even when one fails, and reports the failure', async () => {
    const events: string[] = [];
    const group = concurrently('consumers', [slow('a', 5, events, true), slow('b', 20, events)]);
    await expect(group.stop()).rejects.toThrow('a failed to stop');
    expect(events).toContain('stopped b');
  });
});
