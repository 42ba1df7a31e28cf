/**
 * Billing-cycle calendar (UTC). Cycle n starts at anchor + n calendar months, time of day kept, day clamped to
 * the month's length: Jan 31 10:00 → Feb 28 10:00 → Mar 31 10:00. Each start is computed from the anchor, never
 * from the previous start, so a short month does not pull later cycles earlier.
 */
const MS_PER_DAY = 86_400_000;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 1) - MS_PER_DAY).getUTCDate();
}

/** The anchor moved forward by `months` calendar months, day clamped to the target month's length. */
export function addMonths(anchor: Date, months: number): Date {
  const total = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonth(year, month));
  return new Date(
    Date.UTC(year, month, day, anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds()),
  );
}

/** Start of cycle n (n ≥ 0) counted from the anchor. */
export function cycleStart(anchor: Date, n: number): Date {
  return addMonths(anchor, n);
}

/** The index of the cycle that contains `instant` (start inclusive, end exclusive); -1 before the anchor. */
export function cycleIndexAt(anchor: Date, instant: Date): number {
  if (instant.getTime() < anchor.getTime()) return -1;
  const months =
    (instant.getUTCFullYear() - anchor.getUTCFullYear()) * 12 + (instant.getUTCMonth() - anchor.getUTCMonth());
  // The month difference is exact or one too many (when the instant is earlier in its month than the clamped start).
  let n = Math.max(0, months);
  while (n > 0 && cycleStart(anchor, n).getTime() > instant.getTime()) n -= 1;
  while (cycleStart(anchor, n + 1).getTime() <= instant.getTime()) n += 1;
  return n;
}

export interface CycleWindow {
  start: Date;
  end: Date;
}

export function cycleWindow(anchor: Date, n: number): CycleWindow {
  return { start: cycleStart(anchor, n), end: cycleStart(anchor, n + 1) };
}
