import { deterministicUuid } from '@kana/schemas';

/**
 * A messageId for an event sent without one, derived from its content so that
 * a retried request produces the same id and is deduplicated downstream.
 *
 * Only what the sender chose goes in: not `sentAt`/`receivedAt` (they change
 * on a retry) and not a defaulted timestamp (it is the time we received it).
 * Consequence worth knowing: two identical events without messageId and
 * without timestamp are one event to Kana. Segment's libraries always set
 * both, so this only affects hand-written senders.
 */
export function contentMessageId(accountId: string, content: Record<string, unknown>): string {
  const { sentAt: _sentAt, receivedAt: _receivedAt, messageId: _messageId, ...rest } = content;
  return deterministicUuid(['gateway-message-id', accountId, canonicalJson(rest)]);
}

/** JSON with object keys sorted at every depth, so key order does not change the id. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
