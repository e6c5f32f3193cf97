import type { Clock } from '../domain/clock.ts';
import type { SyncEvent, SyncSummary } from './events.ts';

/** How one sync ended, for the log line and the metrics. */
export type SyncResult = 'ok' | 'conflicts' | 'partial' | 'error' | 'skipped';

export interface SyncOutcome {
  result: SyncResult;
  /** From the first progress event to the end, by the injected clock. */
  durationMs: number;
  /** How long the remote lock took (0 when the sync never got that far). */
  lockWaitMs: number;
  summary?: SyncSummary;
  error?: { code: string; message: string };
}

/**
 * Turns a sync service's events into one outcome per sync. A sync starts with its first progress
 * event (`checking`); the lock wait is the time between `locking` and the phase after it. A sync
 * retried after a lost race is one sync.
 */
export function syncOutcomes(clock: Clock, report: (outcome: SyncOutcome) => void): (event: SyncEvent) => void {
  let startedAt: number | undefined;
  let lockingSince: number | undefined;
  let lockWaitMs = 0;
  const end = (outcome: Omit<SyncOutcome, 'durationMs' | 'lockWaitMs'>, durationMs?: number) => {
    // A sync that failed while waiting (the lock stayed held): the whole wait counts.
    if (lockingSince !== undefined) lockWaitMs += clock.now() - lockingSince;
    report({ ...outcome, durationMs: durationMs ?? (startedAt === undefined ? 0 : clock.now() - startedAt), lockWaitMs });
    startedAt = undefined;
    lockingSince = undefined;
    lockWaitMs = 0;
  };
  return (event) => {
    if (event.type === 'syncProgress') {
      const now = clock.now();
      startedAt ??= now;
      if (lockingSince !== undefined && event.data.phase !== 'locking') {
        lockWaitMs += now - lockingSince;
        lockingSince = undefined;
      }
      if (event.data.phase === 'locking') lockingSince ??= now;
    } else if (event.type === 'syncComplete') {
      const summary = event.data;
      const result: SyncResult = summary.skipped ? 'skipped' : summary.errors > 0 ? 'partial' : summary.conflicts > 0 ? 'conflicts' : 'ok';
      end({ result, summary }, summary.duration_ms);
    } else if (event.type === 'syncError') {
      end({ result: 'error', error: event.data });
    }
  };
}
