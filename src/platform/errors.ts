/**
 * Typed errors that carry their HTTP status and a stable `errorCode`. Services throw
 * these; one handler (platform/problem-handler.ts) turns them into RFC 9457 problems.
 */
export interface FieldProblem {
  /** JSON pointer-ish location, e.g. `/body/name` or `/params/officeCode`. */
  field: string;
  message: string;
}

export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
  constructor(
    /** Stable, machine-readable, SCREAMING_SNAKE_CASE; part of the API contract. */
    readonly errorCode: string,
    readonly detail: string,
    /** Extra members added to the problem document (e.g. `errors`, `allowed`). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }
  /** Extra response headers (e.g. Retry-After). */
  headers(): Record<string, string> {
    return {};
  }
}

export class BadRequestError extends AppError {
  readonly status = 400;
  readonly title = 'Bad Request';
}

export class ValidationError extends AppError {
  readonly status = 400;
  readonly title = 'Bad Request';
  constructor(detail: string, readonly errors: FieldProblem[]) {
    super('VALIDATION_FAILED', detail, { errors });
  }
}

export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly title = 'Unauthorized';
  override headers(): Record<string, string> {
    return { 'www-authenticate': 'Bearer' };
  }
}

export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly title = 'Forbidden';
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly title = 'Not Found';
}

export class MethodNotAllowedError extends AppError {
  readonly status = 405;
  readonly title = 'Method Not Allowed';
  constructor(method: string, url: string, readonly allowed: string[]) {
    super('METHOD_NOT_ALLOWED', `${method} is not supported on ${url}; allowed: ${allowed.join(', ')}`, { allowed });
  }
  override headers(): Record<string, string> {
    return { allow: this.allowed.join(', ') };
  }
}

/** The client stopped sending the body it announced: the rest is not read, and the connection is closed. */
export class RequestTimeoutError extends AppError {
  readonly status = 408;
  readonly title = 'Request Timeout';
  override headers(): Record<string, string> {
    return { connection: 'close' };
  }
}

export class ConflictError extends AppError {
  readonly status = 409;
  readonly title = 'Conflict';
}

export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly title = 'Payload Too Large';
}

export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly title = 'Unsupported Media Type';
}

/** A `Range` that no byte of the object satisfies (HTTP 416); the Content-Range header gives the size. */
export class RangeNotSatisfiableError extends AppError {
  readonly status = 416;
  readonly title = 'Range Not Satisfiable';
  constructor(readonly size: number) {
    super('RANGE_NOT_SATISFIABLE', `The requested range is outside the ${size} bytes of the document`, { size });
  }
  override headers(): Record<string, string> {
    return { 'content-range': `bytes */${this.size}`, 'accept-ranges': 'bytes' };
  }
}

export class UnprocessableError extends AppError {
  readonly status = 422;
  readonly title = 'Unprocessable Content';
}

export class TooManyRequestsError extends AppError {
  readonly status = 429;
  readonly title = 'Too Many Requests';
  constructor(errorCode: string, detail: string, readonly retryAfterSeconds: number) {
    super(errorCode, detail);
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly title = 'Service Unavailable';
  constructor(errorCode: string, detail: string, readonly retryAfterSeconds = 5, extensions: Record<string, unknown> = {}) {
    super(errorCode, detail, extensions);
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}
