// Every topic name and key format lives here, so services never spell a topic
// themselves. Integration tests pass a prefix to get their own topics.

export const TOPIC_BASE_NAMES = {
  identify: 'kana.segment.identify',
  track: 'kana.segment.track',
  reprocess: 'kana.track.reprocess',
  unmapped: 'kana.track.unmapped',
  reprocessed: 'kana.track.reprocessed',
  usageRecords: 'kana.usage.records',
  identityChanges: 'kana.identity.changes',
  dlq: 'kana.dlq',
} as const;

export type TopicKey = keyof typeof TOPIC_BASE_NAMES;
export type TopicNames = { readonly [K in TopicKey]: string };

export function topicNames(prefix = ''): TopicNames {
  const names = {} as Record<TopicKey, string>;
  for (const key of Object.keys(TOPIC_BASE_NAMES) as TopicKey[]) {
    names[key] = `${prefix}${TOPIC_BASE_NAMES[key]}`;
  }
  return names;
}

/** Registry subject of a topic's values (Confluent TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/**
 * Key of every per-user topic. Kafka keeps order per key, so all events of one
 * user of one account are processed in the order the gateway stored them.
 */
export function userKey(accountId: string, userId: string): string {
  return `${accountId}:${userId}`;
}
