/**
 * The few typed errors the whole system uses. The API maps them to 4xx in one place; workers map
 * them to permanent job failures. `field` names the offending input (a JSON path such as
 * `steps[2].min_chars`) so a user can fix it without reading code.
 */
export class TokenmillError extends Error {
  readonly statusCode: number = 500;
  readonly code: string = "internal_error";
}

export class ValidationError extends TokenmillError {
  override readonly statusCode = 400;
  override readonly code = "validation_error";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = "ValidationError";
  }
}

export class NotFoundError extends TokenmillError {
  override readonly statusCode = 404;
  override readonly code = "not_found";
  constructor(
    readonly resource: string,
    readonly id: string,
    /** Where the missing reference came from (e.g. `body.source`); the request URL when unset. */
    readonly field?: string,
  ) {
    super(`${resource} ${id.length > 80 ? `${id.slice(0, 80)}…` : id} not found`);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends TokenmillError {
  override readonly statusCode = 409;
  override readonly code = "conflict";
  constructor(
    message: string,
    /** The input that conflicts (e.g. `body.name`); the request URL when unset. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "ConflictError";
  }
}

/** An input that cannot be read at all: missing file, refused connection, 403 from a bucket. */
export class UnreachableError extends TokenmillError {
  override readonly statusCode = 422;
  override readonly code = "unreachable";
  constructor(
    readonly uri: string,
    reason: string,
    readonly field?: string,
  ) {
    super(`${field ? `${field}: ` : ""}${uri} is unreachable: ${reason}`);
    this.name = "UnreachableError";
  }
}
