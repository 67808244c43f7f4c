import { hash } from 'node:crypto';

/**
 * The id of a usage record is a function of what makes it unique, so a replayed
 * batch, a second reprocess job or a Segment retry writes the same id again and
 * the unique key absorbs it instead of counting twice.
 */
export function usageRecordId(accountId: string, messageId: string, featureId: string): string {
  return deterministicUuid(['usage', accountId, messageId, featureId]);
}

/** A UUID-shaped (v8) digest of the parts; parts are length-prefixed so ("a:b","c") ≠ ("a","b:c"). */
export function deterministicUuid(parts: readonly string[]): string {
  // One-shot hash of the concatenation: the same digest as update() per part, without a Hash
  // object per id (half the time; usage computes one per record).
  let input = '';
  for (const part of parts) input += `${Buffer.byteLength(part)}:${part}`;
  const hex = hash('sha256', input, 'hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
