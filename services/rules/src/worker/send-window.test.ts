import type { Position } from '../adapters/pg-unmapped-store';
import { SendWindow } from './reprocess-worker';

// The walker's window of pages in flight: bounded, and the cursor never
// passes a page Kafka has not acknowledged, whatever order the acks come in.

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const at = (n: number): Position => ({ eventTime: `2026-11-01 00:00:0${n}+00`, messageId: `m${n}` });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function windowOf(limit: number) {
  const saved: { messageId: string; added: number }[] = [];
  const window = new SendWindow(limit, async (position, added) => void saved.push({ messageId: position.messageId, added }));
  const sends = new Map<number, ReturnType<typeof deferred>>();
  const send = (n: number, added = 10) => {
    const d = deferred();
    sends.set(n, d);
    window.add(at(n), added, d.promise);
  };
  return { window, saved, sends, send };
}

describe('SendWindow', () => {
  it('saves the cursor only at the end of the acknowledged run from the start, in order', async () => {
    const { window, saved, sends, send } = windowOf(4);
    [1, 2, 3].forEach((n) => send(n));
    sends.get(3)!.resolve();
    sends.get(2)!.resolve();
    await tick();
    expect(saved).toEqual([]); // page 1 still unacknowledged: the cursor must not pass it
    sends.get(1)!.resolve();
    await window.drain();
    expect(saved).toEqual([{ messageId: 'm3', added: 30 }]);
  });

  it('holds the walker back while `limit` pages are in flight', async () => {
    const { window, sends, send } = windowOf(2);
    send(1);
    send(2);
    let roomy = false;
    const room = window.room().then(() => (roomy = true));
    await tick();
    expect(roomy).toBe(false);
    sends.get(2)!.resolve();
    await tick();
    expect(roomy).toBe(false); // acknowledged out of order: both pages still after the cursor
    sends.get(1)!.resolve();
    await room;
    expect(roomy).toBe(true);
  });

  it('stops at the first failed send and never saves past it', async () => {
    const { window, saved, sends, send } = windowOf(4);
    [1, 2, 3].forEach((n) => send(n));
    sends.get(1)!.resolve();
    await tick();
    sends.get(2)!.reject(new Error('Kafka is unavailable'));
    sends.get(3)!.resolve();
    await expect(window.drain()).rejects.toThrow('Kafka is unavailable');
    await expect(window.room()).rejects.toThrow('Kafka is unavailable');
    await window.settled();
    expect(saved).toEqual([{ messageId: 'm1', added: 10 }]);
  });

  it('a failed cursor write stops the walk too', async () => {
    const window = new SendWindow(4, async () => {
      throw new Error('connection terminated');
    });
    window.add(at(1), 10, Promise.resolve());
    await expect(window.drain()).rejects.toThrow('connection terminated');
  });
});
