/**
 * The HTTP API, one row per route: the single list that the CDK construct and the local server both serve.
 * `entry` is the handler module (it exports `handler`), relative to the repository root.
 * `access` says who may call it (SPEC §6); the handler enforces it, the infrastructure picks the authorizer.
 */
export type Access = {
  service: boolean;
  finance: boolean;
  /** A customer token may call this route for its own account only. */
  ownCustomer: boolean;
};

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT';
  /** API Gateway route path; `{id}` is the account id. */
  path: string;
  entry: string;
  access: Access;
  /** Mutating routes require an `Idempotency-Key` header. */
  mutating: boolean;
}

const SERVICE: Access = { service: true, finance: false, ownCustomer: false };
const FINANCE: Access = { service: false, finance: true, ownCustomer: false };
const READERS: Access = { service: true, finance: true, ownCustomer: true };
const ANYONE: Access = { service: true, finance: true, ownCustomer: true };

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'POST', path: '/v1/accounts', entry: 'functions/http/open-account.ts', access: SERVICE, mutating: true },
  { method: 'GET', path: '/v1/accounts/{id}', entry: 'functions/http/get-account.ts', access: READERS, mutating: false },
  { method: 'GET', path: '/v1/accounts/{id}/balance', entry: 'functions/http/get-balance.ts', access: READERS, mutating: false },
  { method: 'PUT', path: '/v1/accounts/{id}/plan', entry: 'functions/http/change-plan.ts', access: SERVICE, mutating: true },
  {
    method: 'PUT',
    path: '/v1/accounts/{id}/contact',
    entry: 'functions/http/update-contact.ts',
    access: { service: true, finance: false, ownCustomer: true },
    mutating: true,
  },
  { method: 'POST', path: '/v1/accounts/{id}/purchases', entry: 'functions/http/purchase-pack.ts', access: SERVICE, mutating: true },
  { method: 'POST', path: '/v1/accounts/{id}/adjustments', entry: 'functions/http/adjust-credits.ts', access: FINANCE, mutating: true },
  { method: 'POST', path: '/v1/usage', entry: 'functions/http/record-usage.ts', access: SERVICE, mutating: true },
  { method: 'POST', path: '/v1/usage/batch', entry: 'functions/http/record-usage-batch.ts', access: SERVICE, mutating: true },
  { method: 'GET', path: '/v1/accounts/{id}/ledger', entry: 'functions/http/get-ledger.ts', access: READERS, mutating: false },
  { method: 'GET', path: '/v1/accounts/{id}/usage', entry: 'functions/http/get-usage-report.ts', access: READERS, mutating: false },
  { method: 'GET', path: '/v1/accounts/{id}/usage/export', entry: 'functions/http/export-usage.ts', access: READERS, mutating: false },
  { method: 'GET', path: '/v1/reports/finance', entry: 'functions/http/get-finance-report.ts', access: FINANCE, mutating: false },
  { method: 'GET', path: '/v1/reports/balances', entry: 'functions/http/get-balances-report.ts', access: FINANCE, mutating: false },
  { method: 'GET', path: '/v1/catalog', entry: 'functions/http/get-catalog.ts', access: ANYONE, mutating: false },
];

/** Stream consumers and the scheduled roll-over: entry files, each exporting `handler`. */
export const STREAM_CONSUMERS = {
  projectLedger: 'functions/streams/project-ledger.ts',
  sendThresholdWarnings: 'functions/streams/send-threshold-warnings.ts',
  scheduleCycleReset: 'functions/streams/schedule-cycle-reset.ts',
} as const;

export const SCHEDULED = {
  rollOverCycle: 'functions/scheduled/roll-over-cycle.ts',
} as const;
