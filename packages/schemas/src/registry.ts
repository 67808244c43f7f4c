import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import JsonSchema from '@kafkajs/confluent-schema-registry/dist/JsonSchema';
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
import { isExactReprocessMessage, isExactTrackMessage } from './codec-fast-path';

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

/** What EventCodec.decodeKnown returns for a schema id the registry has not confirmed yet. */
export const UNKNOWN_SCHEMA_ID: unique symbol = Symbol('unknown schema id');

const EXACT_CHECKS: Partial<Record<EncodedTopic, (raw: unknown) => boolean>> = { track: isExactTrackMessage, reprocess: isExactReprocessMessage };

/** The Confluent wire format at `offset`: magic byte 0, the schema id, the JSON text. */
function writeWireFormat(bytes: Buffer, offset: number, id: number, json: string): void {
  bytes[offset] = 0;
  bytes.writeInt32BE(id, offset + 1);
  bytes.write(json, offset + 5);
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
  /** Schema ids the registry confirmed to be JSON Schemas. */
  private readonly knownIds = new Set<number>();
  private readonly checking = new Map<number, Promise<void>>();

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
      const id = await this.registerOne(topic);
      this.ids.set(topic, id);
      this.knownIds.add(id);
    }
  }

  /**
   * The client registers a new subject first and sets its compatibility
   * (BACKWARD) right after; a second service starting at that moment reads the
   * registry's default and refuses, or (Apicurio) both set it and the second
   * gets "A rule named 'COMPATIBILITY' already exists". That window closes
   * within milliseconds, so either is retried a few times before it counts.
   */
  private async registerOne(topic: EncodedTopic): Promise<number> {
    const schema = { type: SchemaType.JSON as const, schema: JSON.stringify(jsonSchemaOf(topic)) };
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.registry.register(schema, { subject: valueSubject(this.topics[topic]) });
        return id;
      } catch (error) {
        if (!isRegistrationRace(error) || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  async encode<K extends EncodedTopic>(topic: K, value: TopicValue<K>): Promise<Buffer> {
    return this.registry.encode(this.schemaId(topic), value);
  }

  private schemaId(topic: EncodedTopic): number {
    const id = this.ids.get(topic);
    if (id === undefined) throw new Error(`schema of ${topic} not registered: call registerAll() at start`);
    return id;
  }

  /**
   * The same bytes as encode() (magic byte, schema id, JSON), without the
   * registry client's JSON Schema validation, synchronously. Only for a value
   * whose parts the caller built from output of the zod schemas the registered
   * JSON Schema is derived from (the gateway: events it has checked against
   * segmentEvent, in an envelope it fills itself); validating them again with
   * the same rules was a sizeable share of the gateway's CPU per event.
   */
  encodeParsed<K extends EncodedTopic>(topic: K, value: TopicValue<K>): Buffer {
    return this.encodeJson(topic, JSON.stringify(value));
  }

  /**
   * encodeParsed for a value the caller already has as JSON text, under the same condition: every
   * part of `json` is output of the topic's zod schemas (the rules walk splices a stored event's
   * jsonb text into the message it republishes).
   */
  encodeJson(topic: EncodedTopic, json: string): Buffer {
    const bytes = Buffer.allocUnsafe(5 + Buffer.byteLength(json));
    writeWireFormat(bytes, 0, this.schemaId(topic), json);
    return bytes;
  }

  /**
   * encodeParsed for many values of one topic, written into one buffer: each value is a slice of it.
   * Node's allocUnsafe takes small buffers from an 8 KB pool and allocates a new pool every ~25 outputs of
   * the usage service; for the thousands of outputs of a batch that was most of the encoding time after
   * JSON.stringify. The caller keeps the whole buffer alive as long as any slice.
   */
  encodeParsedMany<K extends EncodedTopic>(topic: K, values: readonly TopicValue<K>[]): Buffer[] {
    return this.encodeJsonMany(
      topic,
      values.map((value) => JSON.stringify(value)),
    );
  }

  /** encodeJson for many values of one topic, written into one buffer as encodeParsedMany does. */
  encodeJsonMany(topic: EncodedTopic, jsons: readonly string[]): Buffer[] {
    const id = this.schemaId(topic);
    let total = 0;
    const sizes = jsons.map((json) => {
      const size = 5 + Buffer.byteLength(json);
      total += size;
      return size;
    });
    const bytes = Buffer.allocUnsafeSlow(total);
    const encoded: Buffer[] = new Array(jsons.length);
    let offset = 0;
    for (let i = 0; i < jsons.length; i++) {
      writeWireFormat(bytes, offset, id, jsons[i]!);
      encoded[i] = bytes.subarray(offset, offset + sizes[i]!);
      offset += sizes[i]!;
    }
    return encoded;
  }

  /**
   * Reads the Confluent wire format and parses the JSON with the topic's zod
   * schema. The registry is asked once per schema id whether the id exists; the
   * value is not validated a second time against the writer's JSON Schema (as
   * the registry client's decode does): that schema is derived from the same
   * zod schema, and validating twice was a sizeable share of every consumer's
   * CPU per message. Anything not decodable is a DecodeError (the DLQ); a
   * registry that cannot be reached is not (the batch is retried).
   */
  async decode<K extends EncodedTopic>(topic: K, bytes: Buffer | null): Promise<TopicValue<K>> {
    const known = this.decodeKnown(topic, bytes);
    if (known !== UNKNOWN_SCHEMA_ID) return known;
    const id = bytes!.readInt32BE(1);
    // One registry request per unknown id, however many messages of a batch carry it.
    let check = this.checking.get(id);
    if (!check) {
      check = this.checkSchemaId(id).finally(() => this.checking.delete(id));
      this.checking.set(id, check);
    }
    await check;
    return this.parse(topic, id, bytes!);
  }

  /**
   * decode() without a promise, for a consumer's batch loop: the same value or DecodeError, or
   * UNKNOWN_SCHEMA_ID when the registry has not confirmed the message's schema id yet (then call
   * decode(), which asks it once).
   */
  decodeKnown<K extends EncodedTopic>(topic: K, bytes: Buffer | null): TopicValue<K> | typeof UNKNOWN_SCHEMA_ID {
    if (!bytes || bytes.length === 0) throw new DecodeError('empty message value');
    if (bytes.length < 5 || bytes[0] !== 0) throw new DecodeError(`not decodable with the registry: not in the Confluent wire format (magic byte ${bytes[0]}, ${bytes.length} bytes)`);
    const id = bytes.readInt32BE(1);
    if (!this.knownIds.has(id)) return UNKNOWN_SCHEMA_ID;
    return this.parse(topic, id, bytes);
  }

  private parse<K extends EncodedTopic>(topic: K, id: number, bytes: Buffer): TopicValue<K> {
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8', 5));
    } catch (error) {
      throw new DecodeError(`not decodable with the registry: schema ${id} is JSON but the value is not: ${(error as Error).message}`);
    }
    // Track events: the parsed JSON itself when zod would return an equal value (see codec-fast-path).
    const exact = EXACT_CHECKS[topic];
    if (exact && exact(raw)) return raw as TopicValue<K>;
    const parsed = TOPIC_VALUE_SCHEMAS[topic].safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DecodeError(`invalid ${topic} value at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    return parsed.data as TopicValue<K>;
  }

  private async checkSchemaId(id: number): Promise<void> {
    let schema: unknown;
    try {
      schema = await this.registry.getSchema(id);
    } catch (error) {
      // 404: the id names no schema, and asking again will not change that. (The client reports
      // a refused connection as status 400, so only 404 is taken as the registry's answer.)
      if ((error as { status?: unknown }).status === 404) throw new DecodeError(`not decodable with the registry: schema ${id}: ${(error as Error).message}`);
      throw error;
    }
    if (!(schema instanceof JsonSchema)) {
      throw new DecodeError(`not decodable with the registry: schema ${id} is not a JSON Schema`);
    }
    this.knownIds.add(id);
  }

  topicName(topic: TopicKey): string {
    return this.topics[topic];
  }
}

function isRegistrationRace(error: unknown): boolean {
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === 'ConfluentSchemaRegistryCompatibilityError' || (typeof message === 'string' && /rule named 'COMPATIBILITY' already exists/i.test(message));
}
