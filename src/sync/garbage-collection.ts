/**
 * `docsync gc`: remote garbage collection under the remote lock, then the local blobs and temp files
 * (docs/design.md#history-trash-and-garbage-collection). The remote part judges blobs by this instance's rows, so it runs only when those rows
 * describe the remote: in step with its current version, nothing unsynced, no commit half done.
 */
import type { Docsync } from '../docsync.ts';
import { isoUtc } from '../domain/clock.ts';
import { AppError } from '../errors.ts';
import { RemoteLock } from '../remote/lock.ts';
import { RemoteMetadataStore } from '../remote/remote-metadata.ts';
import { deltaPath, snapshotPath, type VersionHead } from '../remote/version-file.ts';
import type { Clock } from '../domain/clock.ts';
import type { Remote } from '../remote/remote.ts';
import type { RemoteSnapshot } from '../remote/remote-snapshot.ts';
import { realSleep } from '../remote/retrying-remote.ts';
import { dataPaths } from '../store/data-dir.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { SYNC_STATE_KEYS, type SyncStateStore } from '../store/sync-state.ts';
import { sweepTempFiles } from '../store/temp-sweep.ts';
import { acquireLocalSyncLock } from './local-sync-lock.ts';
import { collectRemoteGarbage, type GcInput, type GcReport } from './remote-gc.ts';

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface LocalGcReport {
  blobs_deleted: number;
  bytes_freed: number;
  blobs_kept: number;
  /** Leftover temp files of killed transfers. */
  temp_removed: number;
}

export interface GarbageCollectionReport {
  dry_run: boolean;
  /** `null` when there was no remote to collect on (see `remote_skipped`). */
  remote: GcReport | null;
  remote_skipped: string | null;
  /** The version whose files were kept as current. */
  remote_version: number | null;
  local: LocalGcReport;
}

export interface GarbageCollectionOptions {
  dryRun: boolean;
  /** Hears what the GC leaves alone or fails on. */
  log?: (message: string) => void;
  /** Blobs the local history keeps besides the rows (row versions inside the window). */
  historyReferences?: (hash: string, fileType: string) => boolean;
}

/** The remote GC would judge blobs by rows that do not describe the remote. */
export class SyncFirstError extends AppError {
  constructor(reason: string) {
    super('sync_first', `${reason}: sync first, then collect garbage. Nothing was deleted.`, 409);
  }
}

/** What `version.txt` names now, as the GC needs it. */
interface CurrentHead {
  version: number;
  commit: string;
  repo: string;
  files: GcInput['current'];
}

/** The files `version.txt` names now (a format-1 remote is converted by a sync first). */
async function readCurrentHead(docsync: Docsync, remote: NonNullable<Docsync['remote']>): Promise<CurrentHead | undefined> {
  const head = await new RemoteMetadataStore(remote, dataPaths(docsync.config.dataDir).tmp, docsync.ids).readHead();
  if (head?.format === 1) throw new SyncFirstError('The remote is still in format 1 (a sync converts it)');
  return head && { version: head.version, commit: head.commit, repo: head.repo, files: { snapshot: snapshotPath(head), deltas: head.deltas.map(deltaPath) } };
}

export async function collectGarbage(docsync: Docsync, options: GarbageCollectionOptions): Promise<GarbageCollectionReport> {
  const release = acquireLocalSyncLock(docsync.config.dataDir);
  try {
    const report: GarbageCollectionReport = {
      dry_run: options.dryRun,
      remote: null,
      remote_skipped: null,
      remote_version: null,
      local: { blobs_deleted: 0, bytes_freed: 0, blobs_kept: 0, temp_removed: 0 },
    };
    await collectOnRemote(docsync, options, report);
    const { config, clock, files } = docsync;
    const temp = await sweepTempFiles(dataPaths(config.dataDir).tmp, clock.now(), { dryRun: options.dryRun });
    const blobs = await files.collectGarbage({
      graceMs: config.gcGraceHours * HOUR_MS,
      dryRun: options.dryRun,
      sweepTemp: false,
      ...(options.historyReferences && { alsoReferenced: options.historyReferences }),
    });
    report.local = { blobs_deleted: blobs.removed, bytes_freed: blobs.bytesFreed, blobs_kept: blobs.kept, temp_removed: temp.removed };
    return report;
  } finally {
    release();
  }
}

async function collectOnRemote(docsync: Docsync, options: GarbageCollectionOptions, report: GarbageCollectionReport): Promise<void> {
  const { remote, config, clock, ids, fileRepository: rows } = docsync;
  if (!remote) {
    report.remote_skipped = 'no remote is configured';
    return;
  }
  const capabilities = await docsync.sync.capabilities();
  // Our own lock left by a crash may be taken back: the local sync lock held above rules out a live one.
  const lock = new RemoteLock(remote, clock, ids, realSleep, {
    ownerId: docsync.instanceId,
    ttlMs: config.lockTtlSeconds * 1000,
    waitMs: config.lockWaitSeconds * 1000,
    exclusiveMkcol: capabilities.exclusiveMkcol,
    reclaimOwn: true,
  });
  const handle = await lock.acquire();
  const lost = new AbortController();
  handle.startAutoRenew((error) => lost.abort(error));
  try {
    const head = await readCurrentHead(docsync, remote);
    if (!head) {
      report.remote_skipped = 'the remote has no version.txt: nothing was ever synced there';
      return;
    }
    const notInStep = whyNotInStep(docsync.syncState, rows, head);
    if (notInStep) throw new SyncFirstError(notInStep);
    const since = isoUtc(clock.now() - config.historyDays * DAY_MS);
    const watched = docsync.syncState.get(SYNC_STATE_KEYS.historySince);
    if (watched === undefined || watched > since) {
      report.remote_skipped = `this instance has seen the remote's commits only since ${watched ?? 'now'}: its history does not cover the ${config.historyDays}-day window yet, so it cannot tell which blobs the window needs`;
      return;
    }
    report.remote_version = head.version;
    report.remote = await collectRemoteGarbage(
      remote,
      {
        current: head.files,
        isReferenced: (hash, fileType) => rows.isBlobKept(hash, fileType, since) || (options.historyReferences?.(hash, fileType) ?? false),
        now: clock.now(),
        windowMs: config.historyDays * DAY_MS,
        graceMs: config.gcGraceHours * HOUR_MS,
        dryRun: options.dryRun,
        signal: lost.signal,
        // Before each batch of deletions: still our lock, and no switch landed since (a late one,
        // where the server ignores If-Match, names blobs judged here by the head before it).
        stillHolding: async () => (await handle.verify()) && (await readCurrentHead(docsync, remote))?.commit === head.commit,
        concurrency: config.transferWorkers,
      },
      options.log,
    );
  } finally {
    await handle.release().catch(() => undefined);
  }
}

/**
 * Why this instance's rows do not describe the remote at `head` (so must not judge its blobs), or
 * `undefined` when they do: same repository, in step with its version and commit, nothing unsynced
 * (a row changed locally names another blob than the remote's row), no commit left half done. The
 * engine asks the same after its commit, before it collects.
 */
export function whyNotInStep(
  state: SyncStateStore,
  rows: Pick<SqliteFileRepository, 'unsyncedCount'>,
  head: { version: number; commit: string; repo: string },
): string | undefined {
  const knownRepo = state.get(SYNC_STATE_KEYS.repoId);
  if (knownRepo !== head.repo) {
    return knownRepo ? `The remote holds repository ${head.repo}, not ${knownRepo} that this instance synced with` : 'This instance never synced with this remote';
  }
  const seen = state.lastSeenVersion();
  if (seen !== head.version || state.lastSeenCommit() !== head.commit) {
    return `This instance last saw version ${seen ?? 'none'}, the remote is at version ${head.version}`;
  }
  const unsynced = rows.unsyncedCount();
  if (unsynced > 0) return `${unsynced} local change(s) or conflict(s) are not synced yet`;
  const last = state.lastCommit();
  if (last && !last.settled) return 'The last sync of this instance stopped in the middle of its commit';
  return undefined;
}

/** When and how the lock holder collects remote garbage after its commit (docs/design.md#history-trash-and-garbage-collection). */
export interface GcPolicy {
  /** 0: never automatically (only `docsync gc`). */
  intervalMs: number;
  windowMs: number;
  graceMs: number;
  /** Whether a row version inside the window starting at `since` names the blob (the file history). */
  historyNames(hash: string, fileType: string, since: string): boolean;
  /** Forgets history older than the window (each file keeps its state at `since`). */
  pruneHistory(since: string): void;
}

export interface AfterCommitGc {
  gc?: GcPolicy | undefined;
  state: SyncStateStore;
  files: SqliteFileRepository;
  remote: Remote;
  clock: Clock;
  transferWorkers: number;
  message?: (text: string) => void;
}

/**
 * Remote GC by the lock holder, after its commit, at most once per interval (docs/design.md#history-trash-and-garbage-collection). Only when
 * this instance's rows describe the remote (in step, nothing unsynced) and its history covers a
 * whole window; a failure is reported and never fails the sync. Returns the figures when it ran.
 */
export async function collectAfterCommit(
  deps: AfterCommitGc,
  head: VersionHead,
  snapshot: RemoteSnapshot,
  signal: AbortSignal,
  /** Reads the lock's owner file (see `GcInput.stillHolding`). */
  stillHolding?: () => Promise<boolean>,
): Promise<GcReport | undefined> {
  const { gc, state, clock, files, message } = deps;
  if (!gc || gc.intervalMs <= 0) return undefined;
  const now = clock.now();
  const last = state.get(SYNC_STATE_KEYS.lastGcTime);
  if (last !== undefined && now - Date.parse(last) < gc.intervalMs) return undefined;
  const since = isoUtc(now - gc.windowMs);
  const watched = state.get(SYNC_STATE_KEYS.historySince);
  const notInStep =
    whyNotInStep(state, files, head) ??
    (watched === undefined || watched > since ? 'this instance has not yet seen a whole history window of commits' : undefined);
  if (notInStep) {
    // The usual case for a month after an instance starts: said once, not at every sync (`docsync gc`
    // still says why, every time it is asked). The same reason with other figures (a version, a
    // count) is the same reason.
    const kind = notInStep.replace(/[0-9]+/g, 'N');
    if (state.get(SYNC_STATE_KEYS.gcPutOff) !== kind) message?.(`Garbage collection put off: ${notInStep}`);
    state.set(SYNC_STATE_KEYS.gcPutOff, kind);
    return undefined;
  }
  state.delete(SYNC_STATE_KEYS.gcPutOff);
  state.set(SYNC_STATE_KEYS.lastGcTime, isoUtc(now));
  try {
    const report = await collectRemoteGarbage(
      deps.remote,
      {
        current: { snapshot: snapshotPath(head), deltas: head.deltas.map(deltaPath) },
        isReferenced: (hash, fileType) =>
          files.isBlobKept(hash, fileType, since) || snapshot.hasLiveBlob(hash, fileType) || gc.historyNames(hash, fileType, since),
        now,
        windowMs: gc.windowMs,
        graceMs: gc.graceMs,
        dryRun: false,
        signal,
        ...(stillHolding && { stillHolding }),
        concurrency: deps.transferWorkers,
      },
      (text) => message?.(text),
    );
    gc.pruneHistory(since);
    return report;
  } catch (error) {
    message?.(`Garbage collection stopped: ${(error as Error).message}`);
    return undefined;
  }
}
