/** Time source. Injected everywhere so tests and the simulation control time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch (UTC). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Repeating timers, injected beside the `Clock` (the lock's renewal during a long sync): tests and
 * the simulation fire them by moving a `ManualClock` instead of waiting.
 */
export interface Timers {
  /** Calls `fn` every `ms` (> 0) until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** Node's timers, unref'd: a pending renewal never keeps a finished process alive. */
export const systemTimers: Timers = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

interface ManualTimer {
  due: number;
  readonly ms: number;
  readonly fn: () => void;
}

/** A clock that moves only when told to; its timers fire as `advance` passes their time. */
export class ManualClock implements Clock, Timers {
  private readonly timers = new Set<ManualTimer>();

  constructor(private current = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): number {
    return this.current;
  }
  /** Moves time forward, firing every timer that falls due on the way, each at its own time. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) {
      this.current = next.due;
      next.due += next.ms;
      next.fn();
    }
    this.current = target;
  }
  /** Jumps to a time without firing timers. */
  set(ms: number): void {
    this.current = ms;
  }
  every(ms: number, fn: () => void): () => void {
    if (!(ms > 0)) throw new RangeError(`a timer needs a positive period, got ${ms}`);
    const timer: ManualTimer = { due: this.current + ms, ms, fn };
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }
  /** Timers not cancelled yet. */
  get pendingTimers(): number {
    return this.timers.size;
  }
  private nextDue(until: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const timer of this.timers) if (timer.due <= until && (!next || timer.due < next.due)) next = timer;
    return next;
  }
}

/** UTC ISO-8601 with a trailing `Z` — the only timestamp format docsync stores or compares. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}
