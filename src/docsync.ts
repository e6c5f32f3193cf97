import type { Config } from './config.ts';
import { systemClock, type Clock, type Timers } from './domain/clock.ts';
import { cryptoIdSource, type IdSource } from './domain/ids.ts';
import { openRemote } from './remote/open-remote.ts';
import type { Remote } from './remote/remote.ts';
import { blobKey, RemoteBlobMissingError, RemoteBlobStore } from './remote/remote-blobs.ts';
import { RemoteMetadataStore } from './remote/remote-metadata.ts';
import { AuthService } from './services/auth-service.ts';
import { FileService } from './services/file-service.ts';
import { HistoryService } from './services/history-service.ts';
import { refuseInterruptedRestore } from './services/interrupted-work.ts';
import { SqliteAuthRepository } from './store/auth-repository.ts';
import { BlobStore } from './store/blob-store.ts';
import { openDatabase, type Db } from './store/database.ts';
import { dataPaths, prepareDataDir, refuseLostDatabase } from './store/data-dir.ts';
import { StorageHealth } from './store/storage-health.ts';
import { SqliteFileRepository } from './store/file-repository.ts';
import { SyncStateStore } from './store/sync-state.ts';
import { ConflictRepository } from './store/conflict-repository.ts';
import { HistoryRepository } from './store/history-repository.ts';
import { SYNC_STATE_KEYS, SyncService, type SyncServiceDeps } from './sync/sync-service.ts';
import { syncOutcomes } from './sync/sync-outcomes.ts';
import { DocsyncMetrics } from './metrics/docsync-metrics.ts';

/** Everything one instance is made of, wired once and shared by the HTTP server and the CLI. */
const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface Docsync {
  config: Config;
  clock: Clock;
  ids: IdSource;
  db: Db;
  instanceId: string;
  files: FileService;
  fileRepository: SqliteFileRepository;
  /** File versions, trash and restore (docs/design.md#history-trash-and-garbage-collection). */
  history: HistoryService;
  historyRepository: HistoryRepository;
  auth: AuthService;
  /** The configured remote, with the retry policy; undefined when standalone. */
  remote: Remote | undefined;
  sync: SyncService;
  syncState: SyncStateStore;
  /** Whether the local database still works (`GET /health`); notes storage errors seen at runtime. */
  health: StorageHealth;
  /** Prometheus metrics (`GET /metrics`): syncs, bytes, conflicts, lock waits, remote errors. */
  metrics: DocsyncMetrics;
  close(): void;
}

export interface DocsyncOptions {
  clock?: Clock;
  /** Timers of the lock's renewal (tests and the simulation: the `ManualClock`); default Node's. */
  timers?: Timers;
  ids?: IdSource;
  /** Test hooks for the sync: sleep, crash points. */
  sync?: Pick<SyncServiceDeps, 'sleep' | 'checkpoint'>;
  /** A remote to use instead of the configured one (tests, the simulation). */
  remote?: Remote;
  /**
   * The simulation: compaction after this many deltas (default MAX_DELTAS), and GC timings in ms
   * instead of the configured hours and days — to exercise compaction and GC in a few hundred steps.
   */
  format?: { maxDeltas?: number; gc?: { intervalMs: number; windowMs: number; graceMs: number } };
  /** Make the data dir when it does not exist (`serve`: yes; other CLI commands refuse a mistyped path). */
  create?: boolean;
  /** Check the database pages at open (`PRAGMA quick_check`, ~0.2 s at 100K rows). Default true. */
  verifyDatabase?: boolean;
}

export { dataPaths };

/**
 * Opens a data dir. Refuses (LocalStateError), never starts empty, where blobs are stored but the
 * database is missing, empty or unreadable: `docsync recover` rebuilds it.
 */
export function openDocsync(config: Config, options: DocsyncOptions = {}): Docsync {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? cryptoIdSource;
  const paths = dataPaths(config.dataDir);
  prepareDataDir(config.dataDir, { create: options.create ?? true });
  refuseInterruptedRestore(config.dataDir);
  refuseLostDatabase(config.dataDir);
  const db = openDatabase(paths.database, { verify: options.verifyDatabase ?? true });
  const fileRepository = new SqliteFileRepository(db);
  const syncState = new SyncStateStore(db);
  const blobs = new BlobStore(paths.blobs, paths.tmp, ids);
  const metrics = new DocsyncMetrics(() => clock.now());
  const remote = options.remote ?? openRemote(config.remote, ids, (error) => metrics.remoteError(error));
  const historyRepository = new HistoryRepository(db);
  const instanceId = syncState.getOrCreate(SYNC_STATE_KEYS.instanceId, () => ids.uuid());
  const sync = new SyncService({
    config,
    files: fileRepository,
    blobs,
    state: syncState,
    conflicts: new ConflictRepository(db),
    remote,
    metadata: remote && new RemoteMetadataStore(remote, paths.tmp, ids, options.sync?.sleep, config.maxSnapshotBytes, options.format?.maxDeltas),
    statePath: paths.remoteState,
    history: historyRepository,
    authorOf: (stableId, version) => historyRepository.get(stableId, version),
    gc: {
      intervalMs: config.gcIntervalHours * HOUR_MS,
      windowMs: config.historyDays * DAY_MS,
      graceMs: config.gcGraceHours * HOUR_MS,
      ...options.format?.gc,
      historyNames: (hash, fileType, since) => historyRepository.namesBlob(hash, fileType, since),
      pruneHistory: (since) => historyRepository.prune(since),
    },
    clock,
    ...(options.timers && { timers: options.timers }),
    ids,
    instanceId,
    ...options.sync,
  });
  sync.subscribe(syncOutcomes(clock, (outcome) => metrics.syncEnded(outcome)));
  return {
    config,
    clock,
    ids,
    db,
    instanceId,
    files: new FileService({
      files: fileRepository,
      blobs,
      clock,
      ids,
      maxUploadBytes: config.maxUploadBytes,
      uploadedUncommitted: (hash, fileType) => syncState.hasUploadedBlob(blobKey({ hash, file_type: fileType })),
    }),
    fileRepository,
    history: new HistoryService({
      files: fileRepository,
      history: historyRepository,
      blobs,
      clock,
      historyDays: config.historyDays,
      fetchBlob:
        remote &&
        ((blob) =>
          new RemoteBlobStore(remote).download(blob, blobs).then(
            () => 'fetched' as const,
            (error: unknown) => {
              if (error instanceof RemoteBlobMissingError) return 'absent' as const;
              throw error;
            },
          )),
    }),
    historyRepository,
    auth: new AuthService(new SqliteAuthRepository(db), clock, ids, config.sessionTtlHours * 3600 * 1000),
    remote,
    sync,
    syncState,
    health: new StorageHealth(db, () => clock.now()),
    metrics,
    close: () => {
      sync.stopPeriodic();
      db.close();
    },
  };
}
