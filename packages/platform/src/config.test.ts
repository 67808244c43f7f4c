import { z } from 'zod';
import { ConfigError, baseEnv, loadConfig } from './config';

const schema = z.object({ ...baseEnv, PORT: z.coerce.number().int().default(8080) });
const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/kana',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

describe('loadConfig', () => {
  it('parses and applies defaults', () => {
    const config = loadConfig(schema, valid);
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
    expect(config.PORT).toBe(8080);
    expect(config.KAFKA_PARTITIONS).toBe(6);
  });

  it('reports every bad variable at once, by name', () => {
    let error: unknown;
    try {
      loadConfig(schema, { ...valid, DATABASE_URL: 'mysql://x', REDIS_URL: undefined, PORT: 'eighty' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/DATABASE_URL: a postgres:\/\/ connection URL/);
    expect(problems.join('\n')).toMatch(/REDIS_URL: required but not set/);
    expect(problems.join('\n')).toMatch(/PORT/);
  });
});
