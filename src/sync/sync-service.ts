import { describeRemote, type Config } from '../config.ts';
import { isoUtc, type Clock, type Timers } from '../domain/clock.ts';
import type { IdSource, StableId } from '../domain/ids.ts';
import { AppError, ConflictError, NotFoundError, storageErrorOf } from '../errors.ts';
import { seconds, withinBudget } from '../remote/bounded-read.ts';
import { probeCapabilities, type RemoteCapabilities } from '../remote/capabilities.ts';
import { LockLostError, RemoteLock } from '../remote/lock.ts';
import type { Remote } from '../remote/remote.ts';
import { RemoteMovedError, type RemoteMetadataStore } from '../remote/remote-metadata.ts';
import { realSleep, type Sleep } from '../remote/retrying-remote.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { ConflictRepository } from '../store/conflict-repository.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { SYNC_STATE_KEYS, type SyncStateStore } from '../store/sync-state.ts';
import { conflictDetail, type CommitAuthor, type ConflictDetail } from './conflict-detail.ts';
import { ConflictResolver, type MergeChoice, type ResolutionResult } from './conflict-resolver.ts';
import { RemoteBlobStore } from '../remote/remote-blobs.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import { SyncEngine, type SyncCheckpoint, type SyncOptions } from './engine.ts';
import type { GcPolicy } from './garbage-collection.ts';
import type { HistoryRecorder } from './history-log.ts';
import type { SyncEvent, SyncSummary } from './events.ts';
import { acquireLocalSyncLock, localSyncLockHeldElsewhere } from './local-sync-lock.ts';
import type { ConflictType } from '../domain/conflict.ts';

export { SYNC_STATE_KEYS };

/** `GET /sync/status` answers within this, whatever the remote does. */
export const STATUS_BUDGET_MS = 12_000;
export { RESOLUTIONS, type Resolution } from './conflict-resolver.ts';

export interface SyncStatusReport {
  needs_sync: boolean;
  local_version: number | null;
  remote_version: number | null;
  unsynced_count: number;
  last_sync_time: string | null;
  sync_in_progress: boolean;
  remote_configured: boolean;
  /** Where the remote is, without credentials. */
  remote: string;
  /** Why the remote could not be read, when it could not (unreachable, refused, corrupt). */
  remote_error: string | null;
  /** Its `AppError` code: `remote_unavailable` (unreachable, timed out, 5xx), `remote_auth`, `remote_replaced`, … */
  remote_error_code: string | null;
  /** What the server honours, probed on first contact; null until then. */
  remote_capabilities: RemoteCapabilities | null;
  /** Whether the sync lock gives mutual exclusion on this server (MKCOL with one winner). */
  lock_atomic: boolean | null;
}

export interface ConflictInfo {
  file_id: StableId;
  stable_id: StableId;
  filename: string;
  doc_id: string | null;
  conflict_type: ConflictType;
  local_modified_at: string;
  local_hash: string;
  local_deleted: boolean;
  remote_modified_at: string | null;
  remote_hash: string | null;
  remote_deleted: boolean;
  remote_filename: string;
  remote_collections: string[];
  remote_labels: string[];
}

export interface SyncServiceDeps {
  config: Config;
  files: SqliteFileRepository;
  blobs: BlobStore;
  state: SyncStateStore;
  conflicts: ConflictRepository;
  remote: Remote | undefined;
  metadata: RemoteMetadataStore | undefined;
  clock: Clock;
  ids: IdSource;
  instanceId: string;
  /** Where this instance keeps its copy of the remote's shared state. */
  statePath: string;
  /** Hears of every commit published or pulled (the file history). */
  history?: HistoryRecorder;
  /** Who committed a row version (the file history): names the instance of a conflict's remote side. */
  authorOf?: CommitAuthor;
  /** Remote GC after commits (docs/design.md#history-trash-and-garbage-collection); none: never automatically. */
  gc?: GcPolicy;
  sleep?: Sleep;
  /** Where the lock's renewals are scheduled (default: Node's timers). */
  timers?: Timers;
  /** How long `status` waits for the remote (default `STATUS_BUDGET_MS`). */
  statusBudgetMs?: number;
  /** Tests: simulate a crash at a named point of the sync. */
  checkpoint?: (point: SyncCheckpoint) => void | Promise<void>;
}

/** The pause before the one re-run of a sync that lost a race: 250 ms plus up to 750 ms of jitter. */
const RACE_RETRY_MIN_MS = 250;
const RACE_RETRY_SPREAD_MS = 750;

/**
 * Syncs this instance with its remote: one sync at a time (a second request joins the running one;
 * another process on the same data dir gets 409), status without scanning, conflicts and their
 * resolution, periodic syncs, and events for SSE.
 */
export class SyncService {
  private running: Promise<SyncSummary> | undefined;
  private readonly listeners = new Set<(event: SyncEvent) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SyncServiceDeps) {}

  get remoteConfigured(): boolean {
    return this.deps.remote !== undefined;
  }

  get inProgress(): boolean {
    return this.running !== undefined;
  }

  /** Subscribes to sync events; returns the unsubscribe function. */
  subscribe(listener: (event: SyncEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Local counters (no scan) plus one small remote read, `version.txt`. The first contact with a
   * remote also probes what the server honours; the answer is remembered.
   */
  async status(): Promise<SyncStatusReport> {
    const { files, state, config } = this.deps;
    const lastVersion = state.lastSeenVersion();
    const report: SyncStatusReport = {
      needs_sync: false,
      local_version: lastVersion ?? null,
      remote_version: null,
      unsynced_count: files.unsyncedCount(),
      last_sync_time: state.get(SYNC_STATE_KEYS.lastSyncTime) ?? null,
      // Also a sync of another process on this data dir (a CLI `docsync sync`): one small file read.
      sync_in_progress: this.inProgress || localSyncLockHeldElsewhere(config.dataDir),
      remote_configured: this.remoteConfigured,
      remote: describeRemote(config.remote),
      remote_error: null,
      remote_error_code: null,
      remote_capabilities: null,
      lock_atomic: null,
    };
    if (!this.deps.metadata) return report;
    let headCommit: string | undefined;
    const metadata = this.deps.metadata;
    const budget = this.deps.statusBudgetMs ?? STATUS_BUDGET_MS;
    // One budget for the remote part, retries included: a server that accepts connections and never
    // answers must not hold a status request for minutes. (Wall time: it bounds real waiting.)
    const endsAt = Date.now() + budget;
    const inTime = <T>(work: Promise<T>) =>
      withinBudget(work, Math.max(0, endsAt - Date.now()), `The remote ${describeRemote(config.remote)} did not answer within ${seconds(budget)}`);
    try {
      const head = await inTime(metadata.readHead());
      headCommit = head?.commit;
      report.remote_version = head?.version ?? 0;
      const knownRepo = state.get(SYNC_STATE_KEYS.repoId);
      if (knownRepo && head?.repo !== knownRepo) {
        report.remote_error_code = 'remote_replaced';
        report.remote_error = head
          ? `The remote holds repository ${head.repo}, not ${knownRepo} that this instance synced with`
          : `The remote has no version.txt, but this instance synced with repository ${knownRepo} there`;
      }
      report.remote_capabilities = await inTime(this.capabilities());
      report.lock_atomic = report.remote_capabilities.exclusiveMkcol;
    } catch (error) {
      report.remote_error = error instanceof Error ? error.message : String(error);
      report.remote_error_code = error instanceof AppError ? error.code : 'internal';
    }
    const remoteMoved =
      report.remote_version !== null &&
      (report.remote_version !== (lastVersion ?? 0) || (headCommit !== undefined && headCommit !== state.lastSeenCommit()));
    report.needs_sync = files.pendingCount() > 0 || remoteMoved;
    return report;
  }

  /** The remembered capabilities of the configured remote, probing it the first time. */
  async capabilities(): Promise<RemoteCapabilities> {
    const { state, remote, config, clock, ids } = this.deps;
    if (!remote) throw noRemote();
    const where = describeRemote(config.remote);
    const cached = state.get(SYNC_STATE_KEYS.capabilities);
    if (cached) {
      const parsed = JSON.parse(cached) as { remote: string; capabilities: RemoteCapabilities };
      if (parsed.remote === where) return parsed.capabilities;
    }
    const capabilities = await probeCapabilities(remote, ids, isoUtc(clock.now()), this.deps.sleep ?? realSleep);
    state.set(SYNC_STATE_KEYS.capabilities, JSON.stringify({ remote: where, capabilities }));
    return capabilities;
  }

  /** Runs a sync, or joins the one already running in this process. `origin`: the asking session. */
  sync(options: SyncOptions = {}, origin?: string): Promise<SyncSummary> {
    if (!this.deps.remote || !this.deps.metadata) return Promise.reject(noRemote());
    this.running ??= this.runExclusive(options, origin).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runExclusive(options: SyncOptions, origin: string | undefined): Promise<SyncSummary> {
    const { config, clock } = this.deps;
    try {
      const release = acquireLocalSyncLock(config.dataDir);
      try {
        const capabilities = await this.capabilities();
        const started = clock.now();
        let summary: SyncSummary;
        try {
          summary = await this.runEngine(capabilities, options, origin);
        } catch (error) {
          if (!lostRace(error)) throw error;
          // Two instances started together and the lock let both in (a server whose MKCOL is not
          // atomic) or let one in late: the commit check stopped this one before it wrote anything
          // that matters. Its lock is released; a moment later, once the winner is done, it runs again
          // as a new sync would. Only a second loss in a row is reported.
          this.emit({ type: 'syncMessage', origin, data: { message: `${error.message}; syncing once more` } });
          await (this.deps.sleep ?? realSleep)(this.raceRetryDelayMs());
          summary = await this.runEngine(capabilities, options, origin);
          summary.message = `${summary.message} (synced a second time: another instance synced at the same moment)`;
          summary.duration_ms = clock.now() - started;
        }
        this.emit({ type: 'syncComplete', origin, data: summary });
        if (summary.local_changed) {
          this.emit({ type: 'fileDataChanged', origin: undefined, data: { reason: 'sync', new_version: summary.new_version } });
        }
        return summary;
      } finally {
        release();
      }
    } catch (raw) {
      // A full disk or a failing database says so, in the event and to the caller.
      const error = raw instanceof AppError ? raw : (storageErrorOf(raw) ?? raw);
      const code = error instanceof AppError ? error.code : 'internal';
      this.emit({ type: 'syncError', origin, data: { code, message: error instanceof Error ? error.message : String(error) } });
      throw error;
    }
  }

  /** One run of the engine under the remote lock. */
  private runEngine(capabilities: RemoteCapabilities, options: SyncOptions, origin: string | undefined): Promise<SyncSummary> {
    const { config, remote, metadata, clock, ids } = this.deps;
    const lock = new RemoteLock(remote!, clock, ids, this.deps.sleep ?? realSleep, {
      ownerId: this.deps.instanceId,
      ttlMs: config.lockTtlSeconds * 1000,
      waitMs: config.lockWaitSeconds * 1000,
      exclusiveMkcol: capabilities.exclusiveMkcol,
      reclaimOwn: true,
      ...(this.deps.timers && { timers: this.deps.timers }),
    });
    const engine = new SyncEngine({
      files: this.deps.files,
      blobs: this.deps.blobs,
      state: this.deps.state,
      conflicts: this.deps.conflicts,
      remote: remote!,
      metadata: metadata!,
      statePath: this.deps.statePath,
      instanceId: this.deps.instanceId,
      ...(this.deps.history && { history: this.deps.history }),
      ...(this.deps.gc && { gc: this.deps.gc }),
      lock,
      clock,
      ids,
      transferWorkers: config.transferWorkers,
      maxDeletePercent: config.maxDeletePercent,
      // If-Match never hurts where it is honoured: at worst (an ETag kept across a quick
      // rewrite, Nextcloud) it lets through what an unconditional write would.
      conditionalSwitch: { ifMatch: capabilities.ifMatch, ifNoneMatch: capabilities.conditionalPut },
      ...(this.deps.checkpoint && { checkpoint: this.deps.checkpoint }),
      listener: {
        progress: (data) => this.emit({ type: 'syncProgress', origin, data }),
        message: (message) => this.emit({ type: 'syncMessage', origin, data: { message } }),
        conflict: (data) => this.emit({ type: 'conflict', origin, data }),
      },
    });
    return engine.run(options);
  }

  /** Jittered, so that two instances that lost to each other do not meet again. */
  private raceRetryDelayMs(): number {
    return RACE_RETRY_MIN_MS + Math.floor((this.deps.ids.bytes(2).readUInt16BE(0) / 0x10000) * RACE_RETRY_SPREAD_MS);
  }

  /** Background syncs every `seconds` (0 = off); a failed one waits for the next tick. */
  startPeriodic(seconds: number, onError: (error: unknown) => void = () => undefined): void {
    this.stopPeriodic();
    if (seconds <= 0 || !this.remoteConfigured) return;
    this.timer = setInterval(() => {
      this.sync().catch(onError);
    }, seconds * 1000);
    this.timer.unref();
  }

  stopPeriodic(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Waits for a running sync to end (shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  conflicts(): ConflictInfo[] {
    const { files, conflicts } = this.deps;
    return conflicts.list().flatMap((conflict) => {
      const local = files.get(conflict.stable_id);
      if (!local) return [];
      return [
        {
          file_id: local.stable_id,
          stable_id: local.stable_id,
          filename: local.filename,
          doc_id: local.doc_id,
          conflict_type: conflict.conflict_type,
          local_modified_at: local.local_modified_at,
          local_hash: local.hash,
          local_deleted: local.deleted,
          // An unreadable remote side (stored by an older build) shows as unknown; only local_wins resolves it.
          remote_modified_at: conflict.remote?.updated_at ?? null,
          remote_hash: conflict.remote?.hash ?? null,
          remote_deleted: conflict.remote?.deleted ?? false,
          remote_filename: conflict.remote?.filename ?? '',
          remote_collections: conflict.remote?.collections ?? [],
          remote_labels: conflict.remote?.labels ?? [],
        },
      ];
    });
  }

  /** Both sides of one conflict in full, and the fields where they differ. 404 when the file is not in conflict. */
  conflictDetail(fileId: string): ConflictDetail {
    const { local, stored } = this.storedConflict(fileId);
    return conflictDetail(local, stored, this.deps.instanceId, this.deps.authorOf ?? (() => undefined));
  }

  /**
   * The remote side's content of a conflict: from the local blob store, or downloaded (capped at
   * its row's size and verified against its hash) into it first; `remote_wins` then needs no
   * second download. 404 when there is no live remote side.
   */
  async remoteConflictContent(fileId: string): Promise<RemoteFileRow> {
    const { stored } = this.storedConflict(fileId);
    const row = stored.remote;
    if (!row || row.deleted) throw new NotFoundError(`The remote side of '${fileId}' has no content (${row ? 'deleted there' : 'unreadable'})`);
    if (!this.deps.blobs.has(row.hash, row.file_type)) {
      if (!this.deps.remote) throw noRemote();
      await new RemoteBlobStore(this.deps.remote).download(row, this.deps.blobs);
    }
    return row;
  }

  private storedConflict(fileId: string) {
    const local = this.deps.files.get(fileId);
    const stored = this.deps.conflicts.get(fileId);
    if (!local || !stored || local.sync_status !== 'conflict') throw new NotFoundError(`No conflict for file '${fileId}'`);
    return { local, stored };
  }

  resolveConflict(fileId: string, resolution: string, choice?: MergeChoice): Promise<ResolutionResult> {
    return new ConflictResolver({
      files: this.deps.files,
      blobs: this.deps.blobs,
      conflicts: this.deps.conflicts,
      remote: this.deps.remote,
      clock: this.deps.clock,
      ids: this.deps.ids,
    }).resolve(fileId, resolution, choice);
  }

  private emit(event: SyncEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A sync stopped because another instance got in at the same moment: worth one more run. */
function lostRace(error: unknown): error is LockLostError | RemoteMovedError {
  return error instanceof LockLostError || error instanceof RemoteMovedError;
}

function noRemote(): ConflictError {
  return new ConflictError(
    'no_remote',
    'No remote is configured, so there is nothing to sync with: this instance runs standalone. ' +
      'Set WEBDAV_BASE_URL (a WebDAV server) or DOCSYNC_REMOTE=file:///path (a shared folder).',
  );
}
