import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export { Redis };

/**
 * The key prefix isolates tests (and could isolate tenants of one Redis).
 * Commands wait for a reconnect a few times and then fail, so a caller sees a
 * retriable error instead of hanging while Redis is down.
 */
export function createRedis(options: { url: string; keyPrefix?: string; logger: Logger }): Redis {
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix ?? '',
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    lazyConnect: true,
  });
  redis.on('error', (error) => options.logger.warn({ err: error, component: 'redis' }, 'redis error'));
  return redis;
}
