import { UnavailableError } from '@kana/platform';
import { hashApiKey } from '../domain/api-key';
import type { KeyStore } from '../ports';

export interface KeyCacheConfig {
  /** How long a lookup is trusted: a revoked key keeps working at most this long (refreshed after half of it). */
  ttlMs: number;
  /** While the key store is down, an expired entry younger than this is used rather than failing ingest. */
  staleIfErrorMs: number;
  maxEntries: number;
}

interface Entry {
  accountId: string | null;
  at: number;
}

/**
 * Every ingest request needs its key resolved; Segment sends thousands a
 * second with a handful of keys, so lookups are cached in process. Unknown
 * keys are cached too (a misconfigured sender must not hammer Postgres), and
 * concurrent lookups of one key share a single query.
 *
 * Revocation takes effect within `ttlMs`, except while Postgres is down: then
 * a key seen within `staleIfErrorMs` keeps working, because refusing all
 * ingest during a database outage would lose more than it protects.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string | null>>();

  constructor(
    private readonly config: KeyCacheConfig,
    private readonly deps: { store: KeyStore; now?: () => number },
  ) {}

  /** The account of a key, null when unknown or revoked; throws UnavailableError when that cannot be known. */
  async accountFor(apiKey: string): Promise<string | null> {
    // Entries are keyed by the key itself, held in memory only: hashing it on every request
    // (sha256) was a measurable share of the gateway's CPU per event; the store sees hashes only.
    const fresh = this.cached(apiKey);
    if (fresh !== undefined) return fresh;
    return this.lookupOnce(apiKey);
  }

  /**
   * The account when the cache holds a fresh entry for the key (no I/O, no
   * promise), else undefined. An entry past half its TTL is refreshed in the
   * background while it keeps answering: with steady traffic a busy key never
   * expires, so no request waits for Postgres (before, every request arriving
   * during the refresh waited, every TTL: the gateway's p99).
   */
  cached(apiKey: string): string | null | undefined {
    const entry = this.entries.get(apiKey);
    if (!entry) return undefined;
    const age = this.now() - entry.at;
    if (age >= this.config.ttlMs) return undefined;
    if (age >= this.config.ttlMs / 2 && !this.inFlight.has(apiKey)) {
      // A failed refresh keeps the entry; the next request after the TTL retries (stale-if-error applies there).
      this.lookupOnce(apiKey).catch(() => undefined);
    }
    return entry.accountId;
  }

  private lookupOnce(apiKey: string): Promise<string | null> {
    let lookup = this.inFlight.get(apiKey);
    if (!lookup) {
      lookup = this.lookup(apiKey, this.entries.get(apiKey)).finally(() => this.inFlight.delete(apiKey));
      this.inFlight.set(apiKey, lookup);
    }
    return lookup;
  }

  private async lookup(apiKey: string, stale: Entry | undefined): Promise<string | null> {
    let accountId: string | null;
    try {
      accountId = await this.deps.store.accountForKeyHash(hashApiKey(apiKey));
    } catch (error) {
      if (stale && this.now() - stale.at < this.config.staleIfErrorMs) return stale.accountId;
      throw new UnavailableError('cannot check the API key right now (key store unavailable); retry later', error);
    }
    this.entries.delete(apiKey);
    this.entries.set(apiKey, { accountId, at: this.now() });
    // Map iteration is insertion order, so the first key is the least recently refreshed.
    if (this.entries.size > this.config.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return accountId;
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }
}
