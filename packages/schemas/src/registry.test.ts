import Ajv from 'ajv';
import { TOPIC_VALUE_SCHEMAS, jsonSchemaOf, type EncodedTopic } from './registry';
import { topicNames } from './topics';

const aTrackMessage = {
  schemaVersion: 1,
  accountId: 'acc_1',
  requestId: 'req-1',
  receivedAt: '2026-11-28T10:00:00.000Z',
  event: {
    type: 'track',
    event: 'Message Sent',
    userId: 'u1',
    messageId: 'm1',
    timestamp: '2026-11-28T09:59:59.000Z',
    context: {},
    integrations: {},
    properties: { featureId: 'messages', delta: 2, nested: { a: [1, 'b'] } },
  },
};

describe('derived JSON Schemas', () => {
  const ajv = new Ajv({ strict: false });

  it.each(Object.keys(TOPIC_VALUE_SCHEMAS) as EncodedTopic[])('%s has a draft-07 schema ajv compiles', (topic) => {
    const schema = jsonSchemaOf(topic);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('accepts what zod accepts and refuses what zod refuses', () => {
    const validate = ajv.compile(jsonSchemaOf('track'));
    expect(TOPIC_VALUE_SCHEMAS.track.safeParse(aTrackMessage).success).toBe(true);
    expect(validate(aTrackMessage)).toBe(true);
    const withoutUser = { ...aTrackMessage, event: { ...aTrackMessage.event, userId: undefined } };
    expect(TOPIC_VALUE_SCHEMAS.track.safeParse(withoutUser).success).toBe(false);
    expect(validate(JSON.parse(JSON.stringify(withoutUser)))).toBe(false);
  });

  it('names every topic with the given prefix', () => {
    expect(topicNames('t1.').track).toBe('t1.kana.segment.track');
    expect(topicNames().dlq).toBe('kana.dlq');
  });
});
