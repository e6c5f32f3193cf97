import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RemoteAuthError, RemoteCorruptError, RemoteTimeoutError, RemoteUnavailableError } from '../remote/errors.ts';
import type { SyncOutcome } from '../sync/sync-outcomes.ts';

/** What a scrape reads at that moment (counters kept elsewhere: the database, the SSE hub). */
export interface MetricSources {
  files(): { live: number; unsynced: number; conflict: number };
  sseClients(): number;
}

/** The kind label of `docsync_remote_errors_total`. */
export type RemoteErrorKind = 'timeout' | 'unavailable' | 'auth' | 'corrupt';

/**
 * The Prometheus metrics of one instance (README "Metrics"). A registry of its own, not prom-client's
 * global one: tests run several instances in one process. Default process metrics are added only
 * by `serve` (`withProcessMetrics`): CLI commands never pay for them.
 */
export class DocsyncMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;

  private readonly syncs = new Counter({
    name: 'docsync_syncs_total',
    help: 'Syncs by result: ok, conflicts (files left in conflict), partial (some transfers failed), error, skipped (quick check: nothing to do)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'docsync_sync_duration_seconds',
    help: 'Duration of syncs that were not skipped, failed ones included',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'docsync_sync_bytes_total',
    help: 'Content bytes moved by syncs, by direction (up, down)',
    labelNames: ['direction'],
    registers: [this.registry],
  });
  private readonly filesMoved = new Counter({
    name: 'docsync_sync_files_total',
    help: 'Files changed by syncs, by action (pushed, pulled, metadata, deleted_local, deleted_remote)',
    labelNames: ['action'],
    registers: [this.registry],
  });
  private readonly conflictsMet = new Counter({
    name: 'docsync_sync_conflicts_total',
    help: 'Conflicts met by syncs (a file stays in conflict until resolved: see docsync_files{state="conflict"})',
    registers: [this.registry],
  });
  private readonly lockWait = new Histogram({
    name: 'docsync_lock_wait_seconds',
    help: 'How long syncs waited for the remote lock',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly remoteErrors = new Counter({
    name: 'docsync_remote_errors_total',
    help: 'Failed remote requests (each attempt, retries included), by kind: timeout, unavailable (network, 5xx, 423, 429), auth (401), corrupt (a reply over its size cap)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly lastSuccess = new Gauge({
    name: 'docsync_last_successful_sync_timestamp_seconds',
    help: 'When the last sync that ended without an error ended (Unix time); 0 before the first',
    registers: [this.registry],
  });

  constructor(now: () => number) {
    this.now = now;
    const self = this;
    new Gauge({
      name: 'docsync_files',
      help: 'Files of this instance by state: live (not deleted), unsynced (local changes and conflicts), conflict',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const files = self.sources?.files();
        if (!files) return;
        for (const state of ['live', 'unsynced', 'conflict'] as const) this.set({ state }, files[state]);
      },
    });
    new Gauge({
      name: 'docsync_sse_clients',
      help: 'Open Server-Sent Events streams',
      registers: [this.registry],
      collect() {
        if (self.sources) this.set(self.sources.sseClients());
      },
    });
  }

  private readonly now: () => number;

  /** Where the gauges read from (the server, once it runs). */
  readFrom(sources: MetricSources): void {
    this.sources = sources;
  }

  /** Adds Node's process metrics (CPU, memory, event loop lag, handles): for the server only. */
  withProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  private processMetrics = false;

  syncEnded(outcome: SyncOutcome): void {
    this.syncs.inc({ result: outcome.result });
    if (outcome.result === 'skipped') return;
    this.duration.observe(outcome.durationMs / 1000);
    if (outcome.lockWaitMs > 0 || outcome.summary) this.lockWait.observe(outcome.lockWaitMs / 1000);
    const summary = outcome.summary;
    if (!summary) return;
    this.bytes.inc({ direction: 'up' }, summary.bytes_uploaded);
    this.bytes.inc({ direction: 'down' }, summary.bytes_downloaded);
    const moved = {
      pushed: summary.uploaded,
      pulled: summary.downloaded,
      metadata: summary.metadata_synced,
      deleted_local: summary.deleted_local,
      deleted_remote: summary.deleted_remote,
    };
    for (const [action, count] of Object.entries(moved)) this.filesMoved.inc({ action }, count);
    this.conflictsMet.inc(summary.conflicts);
    if (outcome.result !== 'partial') this.lastSuccess.set(this.now() / 1000);
  }

  /**
   * A remote request failed. Only trouble is counted: answers the sync expects and handles are not —
   * 412 (a conditional write refused: the lock, the capability probe), a missing parent folder
   * (before its MKCOL), 403 and other refusals (Apache's answer to the loser of two MKCOLs, and to
   * the probe's deliberately impossible folder name).
   */
  remoteError(error: unknown): void {
    const kind = remoteErrorKind(error);
    if (kind) this.remoteErrors.inc({ kind });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function remoteErrorKind(error: unknown): RemoteErrorKind | undefined {
  if (error instanceof RemoteTimeoutError) return 'timeout';
  if (error instanceof RemoteUnavailableError) return 'unavailable';
  if (error instanceof RemoteAuthError && error.remoteStatus === 401) return 'auth';
  if (error instanceof RemoteCorruptError) return 'corrupt';
  return undefined;
}
