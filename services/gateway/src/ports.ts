import type { SegmentEvent } from '@kana/schemas';

// What the HTTP layer needs from the outside world. The real adapters are in
// adapters/; unit tests pass in-memory ones (testing/).

/** Resolves an API key (by its sha256 hash) to its account; null when unknown or revoked. */
export interface KeyStore {
  accountForKeyHash(keyHash: string): Promise<string | null>;
}

export interface StoreRequest {
  accountId: string;
  requestId: string;
  receivedAt: string;
  events: SegmentEvent[];
}

/**
 * Stores accepted events durably. Resolves only once every event is stored
 * (Kafka acks=all); rejects with a retriable AppError (503) when that cannot
 * be known in time. Partial success is reported as failure: the caller answers
 * 503 for the whole request and the retry is deduplicated by messageId.
 */
export interface EventSink {
  store(request: StoreRequest): Promise<void>;
}
