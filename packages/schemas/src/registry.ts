import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { z } from 'zod';
import {
  identifyMessage,
  identityChange,
  reprocessedMessage,
  reprocessMessage,
  trackMessage,
  unmappedMessage,
  usageRecord,
} from './messages';
import { type TopicKey, type TopicNames, valueSubject } from './topics';

/** The zod schema of each topic's values; the DLQ carries raw bytes and has none. */
export const TOPIC_VALUE_SCHEMAS = {
  identify: identifyMessage,
  track: trackMessage,
  reprocess: reprocessMessage,
  unmapped: unmappedMessage,
  reprocessed: reprocessedMessage,
  usageRecords: usageRecord,
  identityChanges: identityChange,
} as const;

export type EncodedTopic = keyof typeof TOPIC_VALUE_SCHEMAS;
export type TopicValue<K extends EncodedTopic> = z.infer<(typeof TOPIC_VALUE_SCHEMAS)[K]>;

/**
 * JSON Schema (draft-07) of a topic's values, derived from the zod schema so
 * the types, the registry and the bytes on the wire cannot drift apart.
 */
export function jsonSchemaOf(topic: EncodedTopic): Record<string, unknown> {
  const schema = z.toJSONSchema(TOPIC_VALUE_SCHEMAS[topic], { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
  return { ...schema, title: topic };
}

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

/**
 * Encodes and decodes topic values in the Confluent wire format (magic byte,
 * 4-byte schema id, JSON) through the schema registry. Decoding validates with
 * zod as well: a message that the registry accepts but our types do not is a
 * DecodeError, which consumers route to the DLQ.
 */
export class EventCodec {
  private readonly ids = new Map<EncodedTopic, number>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly topics: TopicNames,
  ) {}

  static connect(registryUrl: string, topics: TopicNames): EventCodec {
    return new EventCodec(new SchemaRegistry({ host: registryUrl }), topics);
  }

  /** Registers (or finds) every subject; idempotent, called at start by every service. */
  async registerAll(): Promise<void> {
    for (const topic of Object.keys(TOPIC_VALUE_SCHEMAS) as EncodedTopic[]) {
      const { id } = await this.registry.register(
        { type: SchemaType.JSON, schema: JSON.stringify(jsonSchemaOf(topic)) },
        { subject: valueSubject(this.topics[topic]) },
      );
      this.ids.set(topic, id);
    }
  }

  async encode<K extends EncodedTopic>(topic: K, value: TopicValue<K>): Promise<Buffer> {
    const id = this.ids.get(topic);
    if (id === undefined) throw new Error(`schema of ${topic} not registered: call registerAll() at start`);
    return this.registry.encode(id, value);
  }

  async decode<K extends EncodedTopic>(topic: K, bytes: Buffer | null): Promise<TopicValue<K>> {
    if (!bytes) throw new DecodeError('empty message value');
    let raw: unknown;
    try {
      raw = await this.registry.decode(bytes);
    } catch (error) {
      throw new DecodeError(`not decodable with the registry: ${(error as Error).message}`);
    }
    const parsed = TOPIC_VALUE_SCHEMAS[topic].safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DecodeError(`invalid ${topic} value at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    return parsed.data as TopicValue<K>;
  }

  topicName(topic: TopicKey): string {
    return this.topics[topic];
  }
}
