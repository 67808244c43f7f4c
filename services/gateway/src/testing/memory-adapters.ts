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
    this.stored.push(request);
  }

  get events() {
    return this.stored.flatMap((request) => request.events);
  }
}
