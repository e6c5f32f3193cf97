import { formatDuration, formatSize } from '../domain/units.ts';
import type { SyncPhase, SyncProgress } from '../sync/events.ts';

export { formatDuration, formatSize };

/** Where progress goes: stderr, or a test's fake stream. `isTTY` picks the bar; `columns` its width. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `bar`: one line redrawn in place (a terminal). `lines`: plain lines, for pipes and log files. */
export type ProgressMode = 'bar' | 'lines';

export interface ProgressViewOptions {
  mode: ProgressMode;
  /** Milliseconds, for speed and ETA (tests pass their own). */
  now: () => number;
  /** In `lines` mode, at most one line per phase this often besides its last (default 5 s). */
  lineIntervalMs?: number;
}

/** What the person reads while a phase runs; the counted phases get counts, bytes, speed and ETA. */
const LABELS: Record<SyncPhase, string> = {
  checking: 'checking',
  locking: 'waiting for the remote lock',
  metadata: 'reading the remote state',
  planning: 'planning',
  downloading: 'downloading',
  applying: 'applying remote changes',
  uploading: 'uploading',
  committing: 'committing',
  done: 'done',
};

/**
 * Phases whose counts mean something to a person, and the word for their end. (`applying` counts
 * every planned action, pushes included: `applied 30/30` after an upload-only sync would mislead.)
 */
const COUNTED: Partial<Record<SyncPhase, { finished: string; unit: string }>> = {
  downloading: { finished: 'downloaded', unit: 'files' },
  uploading: { finished: 'uploaded', unit: 'files' },
};

const BAR_WIDTH = 20;

interface PhaseState {
  phase: SyncPhase;
  startedAt: number;
  latest: SyncProgress;
  lastLineAt: number;
}

/**
 * Renders a sync's progress events. Counts are always those of the current phase (`done/total`
 * files, bytes of that phase), never the overall percentage: a bar whose total was the percentage
 * once showed `uploading 137/100`. Each counted phase ends with one kept line with its true totals.
 */
export class SyncProgressView {
  private current: PhaseState | undefined;
  /** Whether a redrawable line is on screen (bar mode). */
  private drawn = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly options: ProgressViewOptions,
  ) {}

  update(progress: SyncProgress): void {
    const now = this.options.now();
    if (this.current?.phase !== progress.phase) {
      this.endPhase();
      this.current = { phase: progress.phase, startedAt: now, latest: progress, lastLineAt: now };
    } else {
      this.current.latest = progress;
    }
    if (progress.phase === 'done') return;
    if (this.options.mode === 'bar') {
      this.draw(describeRunning(this.current, now));
    } else if (COUNTED[progress.phase] && progress.total > 0 && progress.done < progress.total) {
      if (now - this.current.lastLineAt < (this.options.lineIntervalMs ?? 5000)) return;
      this.current.lastLineAt = now;
      this.line(describeRunning(this.current, now));
    }
  }

  /** A message (a failed transfer, a conflict): on its own line, the bar redrawn under it. */
  note(text: string): void {
    this.line(text);
    if (this.options.mode === 'bar' && this.current && this.current.phase !== 'done') this.draw(describeRunning(this.current, this.options.now()));
  }

  /** The sync ended (or failed): the last phase's totals, and no bar left behind. */
  finish(): void {
    this.endPhase();
    this.current = undefined;
  }

  private endPhase(): void {
    const state = this.current;
    if (!state) return;
    const counted = COUNTED[state.phase];
    if (counted && state.latest.total > 0) this.line(describeFinished(state, this.options.now()));
    else this.clear();
  }

  private draw(text: string): void {
    // A pty without a size (`script`, some CI runners) says 0 columns.
    const width = Math.max(20, (this.out.columns || 80) - 1);
    this.out.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  private line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }
}

/** `uploading [=====>    ] 42/137 files · 12.3/40.0 MB · 3.1 MB/s · ETA 9 s` */
function describeRunning(state: PhaseState, now: number): string {
  const { latest } = state;
  const counted = COUNTED[state.phase];
  if (!counted || latest.total === 0) return `${LABELS[state.phase]}…`;
  const done = Math.min(latest.done, latest.total);
  const filled = Math.round((done / latest.total) * BAR_WIDTH);
  const bar = `[${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}]`;
  const parts = [`${LABELS[state.phase]} ${bar} ${done}/${latest.total} ${counted.unit}`];
  if (latest.phase_bytes_total > 0) {
    parts.push(`${formatSize(latest.phase_bytes)}/${formatSize(latest.phase_bytes_total)}`);
    const seconds = (now - state.startedAt) / 1000;
    const speed = seconds > 0 ? latest.phase_bytes / seconds : 0;
    if (speed > 0) {
      parts.push(`${formatSize(speed)}/s`);
      parts.push(`ETA ${formatDuration((latest.phase_bytes_total - latest.phase_bytes) / speed)}`);
    }
  }
  return parts.join(' · ');
}

/** `uploaded 137/137 files · 40.0 MB in 12.9 s (3.1 MB/s)` */
function describeFinished(state: PhaseState, now: number): string {
  const { latest } = state;
  const counted = COUNTED[state.phase]!;
  const seconds = (now - state.startedAt) / 1000;
  let text = `${counted.finished} ${Math.min(latest.done, latest.total)}/${latest.total} ${counted.unit}`;
  if (latest.phase_bytes_total > 0) {
    text += ` · ${formatSize(latest.phase_bytes)} in ${formatDuration(seconds)}`;
    if (seconds > 0) text += ` (${formatSize(latest.phase_bytes / seconds)}/s)`;
  }
  return text;
}
