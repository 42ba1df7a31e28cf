import * as z from 'zod';
import type { LedgerEvent } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { commandOutput, httpHandler, routeOf } from '../lib/http.js';
import { balanceView } from '../lib/views.js';

/**
 * PUT /v1/accounts/{id}/plan (service): an upgrade applies now (a new cycle starts with the new allocation), a
 * downgrade is scheduled for the next cycle start, asking for the current plan cancels a scheduled downgrade.
 */
export const changePlanBody = z.strictObject({ plan: z.string().min(1).max(64) });

type PlanChanged = Extract<LedgerEvent, { type: 'PlanChanged' }>;

/** The command's own PlanChanged: not a downgrade that a rollover in the same append applied at a cycle start. */
const ownPlanChange = (events: readonly LedgerEvent[]): PlanChanged | undefined =>
  events.findLast((e): e is PlanChanged => e.type === 'PlanChanged' && (e.data.status !== 'applied' || e.data.startsNewCycle));

export const handler = httpHandler({
  route: routeOf('PUT', '/v1/accounts/{id}/plan'),
  body: changePlanBody,
  handle: async ({ accountId, body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId,
        idempotency,
        command: (now) => ({ type: 'ChangePlan', accountId, now, plan: body.plan }),
        respond: ({ events, state }) => {
          const own = ownPlanChange(events);
          return {
            statusCode: 200,
            body: {
              accountId,
              plan: state.plan,
              pendingPlan: state.pendingPlan === null ? null : { plan: state.pendingPlan, effectiveAt: state.cycleEnd },
              /** applied: in force now · scheduled: at the next cycle start · cancelled: a scheduled downgrade withdrawn. */
              change: own?.data.status ?? 'unchanged',
              effectiveAt: own?.data.effectiveAt ?? null,
              balance: balanceView(state),
              version: state.version,
            },
          };
        },
      }),
    ),
});
