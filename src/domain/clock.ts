/** Time source. Injected everywhere so tests and the simulation control time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch (UTC). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private current = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/** UTC ISO-8601 with a trailing `Z` — the only timestamp format docsync stores or compares. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}
