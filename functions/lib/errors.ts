/**
 * Errors of the adapters (not business rules, which are DomainErrors in domain/ledger/errors.ts). Each carries
 * the HTTP status and the stable code the API answers with; the HTTP layer maps both kinds in one place.
 */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class IdempotencyKeyReusedError extends ApiError {
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(key: string) {
    super(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request body.', { idempotencyKey: key });
  }
}

/** Optimistic concurrency gave up after its retries: the caller may retry the same request with the same key. */
export class ConcurrencyConflictError extends ApiError {
  override readonly name = 'ConcurrencyConflictError';
  constructor(accountId: string, attempts: number) {
    super(409, 'concurrent_update', `Account "${accountId}" is being updated concurrently; retry with the same Idempotency-Key.`, {
      accountId,
      attempts,
    });
  }
}
