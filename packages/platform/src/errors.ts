/**
 * The error decides what happens next: `retriable` errors make a consumer retry
 * its batch and the gateway answer 503; the others are the caller's fault (4xx)
 * or a bug. `status` is the HTTP status a route answers with.
 */
export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly code: string;
  readonly status: number;
  readonly retriable: boolean;

  constructor(message: string, options: { code?: string; status?: number; retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'KANA_INTERNAL';
    this.status = options.status ?? 500;
    this.retriable = options.retriable ?? false;
  }
}

/** An error whose message is safe and useful to show to the HTTP client. */
export function httpError(status: number, message: string, code = `KANA_HTTP_${status}`): AppError {
  return new AppError(message, { status, code, retriable: status >= 500 });
}

/** Kafka, Postgres or Redis unavailable, or an ack that did not come in time. */
export class UnavailableError extends AppError {
  override readonly name = 'UnavailableError';
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'KANA_UNAVAILABLE', status: 503, retriable: true, cause });
  }
}

/**
 * Whether trying the same work again later can succeed: an AppError says so itself; any other
 * error is retriable when it (or an error in its cause chain) is a dependency being away
 * (see isTransientInfrastructureError). Everything else is deterministic: bad data or a bug.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof AppError) return error.retriable;
  return isTransientInfrastructureError(error);
}

// Node socket errors: the server is restarting, unreachable or dropped the connection.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
// Postgres SQLSTATEs a retry cures: 08 connection exception, 53 insufficient resources,
// 58 system error (I/O), 57P01-57P03 shutdown / crash / cannot connect now, 57014 query
// canceled (statement timeout, pg_cancel_backend), 40001 serialization failure,
// 40P01 deadlock, 55P03 lock not available.
const PG_CLASSES = ['08', '53', '58'];
const PG_CODES = new Set(['57P01', '57P02', '57P03', '57014', '40001', '40P01', '55P03']);
// Errors without a code that node-postgres, pg-pool and ioredis raise when the server goes away.
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection is closed|Stream isn't writeable|Reached the max retries per request limit/i;
// kafkajs marks its errors; these are the ones it gives up on although the broker may come back.
const KAFKAJS_TRANSIENT = new Set([
  'KafkaJSNumberOfRetriesExceeded', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError', 'KafkaJSBrokerNotFound', 'KafkaJSLockTimeout', 'KafkaJSTimeout',
]);

/**
 * Kafka, Postgres, Redis or the network being away, as the clients report it. A consumer
 * must retry such a batch, never dead-letter it: the data is fine, the dependency is not.
 */
export function isTransientInfrastructureError(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 8; depth++) {
    const { code, name, message, retriable } = current as { code?: unknown; name?: unknown; message?: unknown; retriable?: unknown };
    if (current instanceof AppError) return current.retriable;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || PG_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && PG_CLASSES.includes(code.slice(0, 2))))) return true;
    if (typeof name === 'string' && name.startsWith('KafkaJS') && (KAFKAJS_TRANSIENT.has(name) || retriable === true)) return true;
    if (name === 'MaxRetriesPerRequestError') return true;
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
    if (current instanceof AggregateError && current.errors.some((inner) => isTransientInfrastructureError(inner))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
