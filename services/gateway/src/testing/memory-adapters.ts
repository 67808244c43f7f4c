import { isDeepStrictEqual } from 'node:util';
import { segmentEvent } from '@kana/schemas';
import type { EventSink, KeyStore, StoreRequest } from '../ports';
import { hashApiKey } from '../domain/api-key';

// In-memory adapters of the gateway's ports, for unit tests only: integration
// tests use the Postgres and Kafka adapters.

export class MemoryKeyStore implements KeyStore {
  readonly keys = new Map<string, string | null>();
  lookups = 0;
  failing = false;

  add(apiKey: string, accountId: string): this {
    this.keys.set(hashApiKey(apiKey), accountId);
    return this;
  }

  revoke(apiKey: string): void {
    this.keys.set(hashApiKey(apiKey), null);
  }

  async accountForKeyHash(keyHash: string): Promise<string | null> {
    this.lookups++;
    if (this.failing) throw new Error('connection refused');
    return this.keys.get(keyHash) ?? null;
  }
}

export class MemoryEventSink implements EventSink {
  readonly stored: StoreRequest[] = [];
  /** When set, store() rejects with it (e.g. an UnavailableError) and stores nothing. */
  failWith: Error | undefined;

  async store(request: StoreRequest): Promise<void> {
    if (this.failWith) throw this.failWith;
    // What consumers will check when decoding: normalize.ts skips zod when its own checks
    // suffice, so every test that gets an event accepted also checks they did (a 500 otherwise).
    for (const event of request.events) {
      const parsed = segmentEvent.safeParse(event);
      if (!parsed.success || !isDeepStrictEqual(parsed.data, event)) throw new Error(`accepted event does not satisfy segmentEvent: ${JSON.stringify(parsed.error?.issues ?? parsed.data)}`);
    }
    this.stored.push(request);
  }

  get events() {
    return this.stored.flatMap((request) => request.events);
  }
}
