import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One root logger per process; components take children with their context.
 * Credentials are redacted wherever they appear in a logged request.
 */
export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({
    name: options.name,
    level: options.level ?? 'info',
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'apiKey', '*.apiKey', 'password'],
      censor: '[redacted]',
    },
  });
}
