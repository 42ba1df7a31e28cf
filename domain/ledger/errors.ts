/**
 * Domain errors carry a stable `code` (clients switch on it) and `details`. Their `kind` says which class of
 * failure they are; the HTTP layer maps kinds to status codes in one place.
 */
export type DomainErrorKind = 'validation' | 'not_found' | 'conflict' | 'insufficient_credits' | 'business_rule';

export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class InsufficientCreditsError extends DomainError {
  override readonly name = 'InsufficientCreditsError';
  /** `required` and `available` are in credits, as the API shows them. */
  constructor(required: number, available: number) {
    super('insufficient_credits', 'insufficient_credits', `This needs ${required} credits and ${available} are available.`, {
      required,
      available,
    });
  }
}

export class UnknownRateError extends DomainError {
  override readonly name = 'UnknownRateError';
  constructor(feature: string, variant: string | undefined, field: string) {
    super('validation', 'unknown_rate', `No rate for feature "${feature}"${variant === undefined ? '' : ` and "${variant}"`}.`, {
      feature,
      variant,
      field,
    });
  }
}

export class InvalidUsageError extends DomainError {
  override readonly name = 'InvalidUsageError';
  constructor(message: string, field: string) {
    super('validation', 'invalid_usage', message, { field });
  }
}

export class UnknownPlanError extends DomainError {
  override readonly name = 'UnknownPlanError';
  constructor(plan: string) {
    super('validation', 'unknown_plan', `No plan named "${plan}".`, { plan });
  }
}

export class UnknownPackError extends DomainError {
  override readonly name = 'UnknownPackError';
  constructor(pack: string) {
    super('validation', 'unknown_pack', `No pack named "${pack}".`, { pack });
  }
}

export class AccountNotFoundError extends DomainError {
  override readonly name = 'AccountNotFoundError';
  constructor(accountId: string) {
    super('not_found', 'account_not_found', `No account "${accountId}".`, { accountId });
  }
}

export class AccountAlreadyExistsError extends DomainError {
  override readonly name = 'AccountAlreadyExistsError';
  constructor(accountId: string) {
    super('conflict', 'account_exists', `Account "${accountId}" already exists with other settings.`, { accountId });
  }
}

export class PaymentRefReusedError extends DomainError {
  override readonly name = 'PaymentRefReusedError';
  constructor(paymentRef: string) {
    super('conflict', 'payment_ref_reused', `Payment reference "${paymentRef}" was already used for another purchase.`, {
      paymentRef,
    });
  }
}

export class PacksNotAvailableError extends DomainError {
  override readonly name = 'PacksNotAvailableError';
  constructor(plan: string) {
    super('business_rule', 'packs_not_available', `The ${plan} plan is unlimited; packs cannot be bought on it.`, { plan });
  }
}

export class InvalidCycleAnchorError extends DomainError {
  override readonly name = 'InvalidCycleAnchorError';
  constructor(anchor: string) {
    super('validation', 'invalid_cycle_anchor', 'The cycle anchor cannot be in the future.', { field: 'cycleAnchor', cycleAnchor: anchor });
  }
}

export class InvalidAmountError extends DomainError {
  override readonly name = 'InvalidAmountError';
  constructor(message: string, field: string) {
    super('validation', 'invalid_amount', message, { field });
  }
}
