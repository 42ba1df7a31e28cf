/**
 * The one clock every handler reads. In AWS it is the system clock; the local runtime (`POST /_local/clock`) and
 * tests replace it, so time travel reaches every handler the same way.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

let current: Clock = systemClock;

export const clock: Clock = { now: () => current.now() };

export function setClock(next: Clock): void {
  current = next;
}

export function resetClock(): void {
  current = systemClock;
}

/** A clock that stays where it is put: for the local runtime and tests. */
export class ManualClock implements Clock {
  constructor(private instant: Date = new Date()) {}
  now(): Date {
    return new Date(this.instant.getTime());
  }
  set(instant: Date): void {
    this.instant = new Date(instant.getTime());
  }
  advance(ms: number): void {
    this.instant = new Date(this.instant.getTime() + ms);
  }
}
