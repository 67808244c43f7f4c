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

export function isRetriable(error: unknown): boolean {
  return error instanceof AppError ? error.retriable : false;
}
