import { isoUtc, type Clock } from '../domain/clock.ts';
import type { FileRecord } from '../domain/file.ts';
import { describeRejected, type RemoteFileRow } from '../domain/shared-row.ts';
import type { IdSource } from '../domain/ids.ts';
import { withinBudget } from '../remote/bounded-read.ts';
import { LockLostError, type LockHandle, type RemoteLock } from '../remote/lock.ts';
import type { Remote } from '../remote/remote.ts';
import { blobKey, RemoteBlobStore } from '../remote/remote-blobs.ts';
import type { ConditionalWrites, RemoteMetadataStore } from '../remote/remote-metadata.ts';
import type { RemoteSnapshot } from '../remote/remote-snapshot.ts';
import type { VersionHead } from '../remote/version-file.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { ConflictRepository } from '../store/conflict-repository.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { SYNC_STATE_KEYS, type SyncStateStore } from '../store/sync-state.ts';
import { MassDeleteError, RemoteReplacedError } from './errors.ts';
import { emptySummary, type SyncListener, type SyncSummary } from './events.ts';
import { dryRunSummary } from './dry-run.ts';
import { planSync, type PlanAction } from './planner.ts';
import { BlobTransfers, uniqueBlobs } from './blob-transfers.ts';
import { SyncProgress } from './sync-progress.ts';
import { adoptWhole, canAdoptWhole } from './adopt.ts';
import { CommitRecovery } from './commit-recovery.ts';
import { collectAfterCommit, type GcPolicy } from './garbage-collection.ts';
import { recordJournal, recordReplaced, type HistoryRecorder } from './history-log.ts';
import { restoreCommitBlobs } from './late-switch.ts';
import { fingerprint, fromRemote, toRemote, unchangedSince } from './rows.ts';

/**
 * Thrown by a test's checkpoint to stop a sync the way a killed process would: nothing is cleaned
 * up, the remote lock stays where it is.
 */
export class SimulatedCrash extends Error {
  constructor(readonly point: SyncCheckpoint) {
    super(`simulated crash at ${point}`);
  }
}

/** Named points inside a sync where tests simulate a crash (by throwing). */
export type SyncCheckpoint = 'after_lock' | 'after_blob_upload' | 'after_local_apply' | 'before_version_switch' | 'after_commit';

export interface SyncOptions {
  /** Skip the quick check, and pass the mass-delete guard. */
  force?: boolean;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
  /** Publish this instance's files as a new remote repository, whatever is (or is not) there. */
  reinitialize?: boolean;
}

export interface SyncEngineDeps {
  files: SqliteFileRepository;
  blobs: BlobStore;
  state: SyncStateStore;
  conflicts: ConflictRepository;
  remote: Remote;
  metadata: RemoteMetadataStore;
  /** Where this instance keeps its copy of the remote's shared state (moved forward by deltas). */
  statePath: string;
  instanceId: string;
  history?: HistoryRecorder;
  gc?: GcPolicy;
  lock: RemoteLock;
  clock: Clock;
  ids: IdSource;
  transferWorkers: number;
  maxDeletePercent: number;
  listener?: SyncListener;
  /** The preconditions the server honours, to make the version switch conditional. */
  conditionalSwitch?: ConditionalWrites;
  checkpoint?: (point: SyncCheckpoint) => void | Promise<void>;
}

/** The shared state a sync works on, and the head it will commit on top of. */
interface OpenedSnapshot {
  snapshot: RemoteSnapshot;
  base: VersionHead | undefined;
  /** A new repository (first sync of a new remote, or re-initialisation): committed even if empty. */
  fresh: boolean;
  /** A format-1 remote: this sync's commit (even an empty one) converts it to format 2. */
  migrate: boolean;
}

/** The most a sync's end waits for the remote lock to be released. */
const RELEASE_BUDGET_MS = 10_000;

/** Remote changes applied per local transaction. */
const APPLY_BATCH = 1000;

/** Below this many deletions the mass-delete guard stays quiet: deleting 1 of 2 files is not a mass delete. */
export const MASS_DELETE_MIN_FILES = 10;

/**
 * One sync (docs/design.md#sync), in an order that leaves both sides consistent if it stops at any point:
 * blobs go up before the metadata that names them; remote changes are applied locally as the remote
 * state they are; local rows are marked synced only after `version.txt` names the commit that holds
 * them. Whatever did not happen is simply found again by the next sync.
 */
export class SyncEngine {
  private readonly summary = emptySummary();
  private readonly progress: SyncProgress;
  private readonly transfers: BlobTransfers;

  /** The remote's blobs for this sync; a blob a snapshot row names is known to be there. */
  private readonly remoteBlobs: RemoteBlobStore;
  /** The snapshot this sync works on, once opened. */
  private snapshot: RemoteSnapshot | undefined;

  /** Lost commits, crash leftovers, rewritten history: repaired before the plan. */
  private readonly recovery: CommitRecovery;

  constructor(private readonly deps: SyncEngineDeps) {
    this.recovery = new CommitRecovery({ ...deps, releaseBlob: (file) => this.releaseBlob(file) });
    this.remoteBlobs = new RemoteBlobStore(deps.remote, {
      knownElsewhere: (hash, fileType) => this.snapshot?.hasLiveBlob(hash, fileType) ?? false,
    });
    this.progress = new SyncProgress(deps.clock, deps.listener);
    this.transfers = new BlobTransfers({ ...deps, remoteBlobs: this.remoteBlobs, summary: this.summary, progress: this.progress });
  }

  async run(options: SyncOptions = {}): Promise<SyncSummary> {
    const started = this.deps.clock.now();
    const result = await this.runSteps(options);
    result.duration_ms = this.deps.clock.now() - started;
    this.progress.report('done', 1, 1);
    return result;
  }

  private async runSteps(options: SyncOptions): Promise<SyncSummary> {
    const { state, files, metadata } = this.deps;
    this.progress.report('checking', 0, 1);
    const lastSeen = state.lastSeenVersion();
    // With local changes the sync runs anyway: the quick check would only cost a request.
    if (!options.force && !options.reinitialize && !options.dryRun && files.pendingCount() === 0 && !state.lastCommit()?.checkBlobs) {
      const head = await metadata.readHead();
      const knownRepo = state.get(SYNC_STATE_KEYS.repoId);
      const unchanged = head
        ? head.repo === knownRepo && head.version === lastSeen && head.commit === state.lastSeenCommit()
        : knownRepo === undefined;
      if (unchanged) {
        return { ...this.summary, skipped: true, new_version: head?.version ?? null, message: 'Nothing to sync' };
      }
    }
    this.progress.report('locking', 0, 1);
    const handle = await this.deps.lock.acquire();
    let lockLost: unknown;
    const lockGone = new AbortController();
    handle.startAutoRenew((error) => {
      lockLost = error;
      lockGone.abort(error);
    });
    let snapshot: RemoteSnapshot | undefined;
    let crashed = false;
    try {
      await this.deps.checkpoint?.('after_lock');
      this.progress.report('metadata', 0, 1);
      const head = await metadata.readHead();
      const opened = await this.openSnapshot(head, options);
      snapshot = opened.snapshot;
      this.snapshot = snapshot;
      this.recovery.settleLastCommit(snapshot);
      if (!options.dryRun) await this.checkLastCommitBlobs(snapshot);
      const lost = this.recovery.requeueLostCommit(snapshot);
      const rewritten = opened.fresh ? undefined : this.recovery.repairRewrittenHistory(snapshot);
      const requeued = (lost?.requeued ?? 0) + (rewritten?.requeued ?? 0);
      this.progress.report('planning', 0, 1);
      // After a lost commit, what others wrote since its base is news too, whatever its version.
      const since = options.reinitialize
        ? 0
        : Math.min(lastSeen ?? 0, lost?.base ?? Number.POSITIVE_INFINITY, rewritten?.fork ?? Number.POSITIVE_INFINITY);
      // A new instance with no rows at all adopts the remote page by page (bounded memory).
      const adopt = !options.dryRun && !opened.fresh && lastSeen === undefined && canAdoptWhole(files);
      let actions: PlanAction[] = [];
      if (adopt) {
        await adoptWhole(snapshot, {
          files,
          blobs: this.deps.blobs,
          remoteBlobs: this.remoteBlobs,
          clock: this.deps.clock,
          transferWorkers: this.deps.transferWorkers,
          summary: this.summary,
          message: (text) => this.deps.listener?.message?.(text),
          // Its bytes like any pull's (the page shows "1.2 MB of 3 MB"); all it moved are downloads.
          progress: (phase, done, total, bytes, bytesTotal) => {
            this.progress.bytes = this.summary.bytes_downloaded;
            this.progress.report(phase, done, total, bytes, bytesTotal);
          },
        });
      } else {
        actions = this.plan(snapshot, since);
        this.guardMassDelete(actions, options);
        if (options.dryRun) return this.dryRunSummary(actions, head, snapshot);
        await this.applyRemoteChanges(actions);
      }
      const pullsComplete = this.summary.errors === 0;
      if (pullsComplete && head) state.markSeen(head);
      await this.deps.checkpoint?.('after_local_apply');
      if (lockLost) throw lockLost;
      const newHead = await this.pushLocalChanges(actions, opened, handle);
      const version = newHead?.version ?? head?.version ?? null;
      if (newHead && pullsComplete) state.markSeen(newHead);
      if (newHead && pullsComplete && !lockLost) {
        const gc = await collectAfterCommit(
          { ...this.deps, message: (text) => this.deps.listener?.message?.(text) },
          newHead,
          snapshot,
          lockGone.signal,
          () => this.gcMayGoOn(handle, newHead),
        );
        if (gc) this.summary.gc = gc;
      }
      this.reportRejected(snapshot);
      state.set(SYNC_STATE_KEYS.lastSyncTime, isoUtc(this.deps.clock.now()));
      this.summary.new_version = version;
      this.summary.message = this.describe(requeued);
      state.set(SYNC_STATE_KEYS.lastSyncSummary, JSON.stringify(this.summary));
      return this.summary;
    } catch (error) {
      crashed = error instanceof SimulatedCrash;
      throw error;
    } finally {
      handle.stopAutoRenew();
      if (!crashed) {
        snapshot?.close();
        // Bounded: a server that stalled the sync must not also hold it here; an unreleased lock
        // expires by itself.
        await withinBudget(handle.release(), RELEASE_BUDGET_MS, 'lock release').catch(() => false);
      }
    }
  }

  /**
   * The current snapshot, after the repository checks: a missing or foreign remote is new only if
   * this instance never synced (or is told to re-initialise); otherwise it is refused, never read as
   * "everything was deleted".
   */
  private async openSnapshot(head: VersionHead | undefined, options: SyncOptions): Promise<OpenedSnapshot> {
    const { state, metadata, ids } = this.deps;
    const knownRepo = state.get(SYNC_STATE_KEYS.repoId);
    if (options.reinitialize || (!head && !knownRepo)) {
      if (options.reinitialize) this.requeueEverything();
      state.clearSeenCommits();
      // The repository id is remembered only once its first commit is published.
      state.set(SYNC_STATE_KEYS.historySince, isoUtc(this.deps.clock.now()));
      return { snapshot: await metadata.initialize(this.deps.statePath, ids.uuid()), base: head, fresh: true, migrate: false };
    }
    if (!head) {
      throw new RemoteReplacedError(
        `The remote ${this.deps.remote.description} has no version.txt, but this instance synced with repository ${knownRepo} there (version ${state.lastSeenVersion() ?? '?'}).`,
      );
    }
    // version.txt names its repository: a foreign remote is refused before anything is downloaded.
    if (knownRepo && head.repo !== knownRepo) {
      throw new RemoteReplacedError(`The remote ${this.deps.remote.description} holds repository ${head.repo}, but this instance synced with ${knownRepo}.`);
    }
    if (state.get(SYNC_STATE_KEYS.historyCatchingUp) !== undefined) state.set(SYNC_STATE_KEYS.historySince, isoUtc(this.deps.clock.now()));
    state.set(SYNC_STATE_KEYS.historyCatchingUp, '1');
    const caughtUp = await metadata.catchUp(this.deps.statePath, head);
    const snapshot = caughtUp.state;
    const refuse = async (message: string): Promise<never> => {
      snapshot.close();
      throw new RemoteReplacedError(message);
    };
    const lastSeen = state.lastSeenVersion();
    if (knownRepo && lastSeen !== undefined && head.version < lastSeen && !this.recovery.lateSwitchExplains(snapshot, head)) {
      await refuse(`The remote went back from version ${lastSeen} to ${head.version} (restored from an older copy?).`);
    }
    if (!knownRepo) {
      state.set(SYNC_STATE_KEYS.repoId, snapshot.repoId);
      state.clearSeenCommits();
    }
    // Started from a snapshot: the commits before it are not in this instance's history.
    if (caughtUp.via === 'snapshot') state.set(SYNC_STATE_KEYS.historySince, isoUtc(this.deps.clock.now()));
    for (const journal of [...caughtUp.earlier, ...caughtUp.journals]) recordJournal(this.deps.history, journal);
    recordReplaced(this.deps.history, caughtUp.replaced, head);
    state.delete(SYNC_STATE_KEYS.historyCatchingUp);
    return { snapshot, base: head, fresh: false, migrate: head.format === 1 };
  }

  /** Every live local row becomes a change to publish (re-initialisation). */
  private requeueEverything(): void {
    const { files } = this.deps;
    for (let page = files.list({ limit: 1000, includeDeleted: false }); ; ) {
      for (const file of page.files) {
        if (file.sync_status === 'synced') files.update({ ...file, sync_status: 'modified', remote_version: null });
        else files.update({ ...file, remote_version: null });
      }
      if (!page.nextCursor) break;
      page = files.list({ limit: 1000, includeDeleted: false, cursor: page.nextCursor });
    }
    this.deps.state.clearLastCommit();
  }

  /** Plans the files changed on either side since `lastSeen`: no scan of unchanged files. */
  private plan(snapshot: RemoteSnapshot, lastSeen: number): PlanAction[] {
    const { files, conflicts } = this.deps;
    const remotes = new Map(snapshot.changedSince(lastSeen).map((row) => [row.stable_id, row]));
    const locals = new Map(files.pendingChanges().map((row) => [row.stable_id as string, row]));
    for (const id of remotes.keys()) {
      if (locals.has(id)) continue;
      const local = files.get(id);
      if (!local) continue;
      // A file still in conflict: keep its stored remote side current for `remote_wins`.
      const stored = local.sync_status === 'conflict' ? conflicts.get(id) : undefined;
      if (stored) conflicts.upsert(id, stored.conflict_type, remotes.get(id)!, stored.detected_at);
      locals.set(id, local);
    }
    for (const id of locals.keys()) {
      if (remotes.has(id)) continue;
      const remote = snapshot.get(id);
      if (remote) remotes.set(id, remote);
    }
    return planSync(locals, remotes).actions;
  }

  private guardMassDelete(actions: PlanAction[], options: SyncOptions): void {
    if (options.force) return;
    const deletions = actions.filter((a) => a.kind === 'delete_local').length;
    const live = this.deps.files.liveCount();
    if (deletions >= MASS_DELETE_MIN_FILES && deletions * 100 > this.deps.maxDeletePercent * live) {
      throw new MassDeleteError(deletions, live, this.deps.maxDeletePercent);
    }
  }

  /** Pulls (content verified before use), remote deletions, agreements, and new conflicts. */
  private async applyRemoteChanges(actions: PlanAction[]): Promise<void> {
    const { blobs } = this.deps;
    const pulls = actions.filter((a): a is Extract<PlanAction, { kind: 'pull' }> => a.kind === 'pull');
    const needed = uniqueBlobs(pulls.filter((p) => p.content && !blobs.has(p.remote.hash, p.remote.file_type)).map((p) => p.remote));
    const failed = await this.transfers.download(needed);
    this.progress.report('applying', 0, actions.length);
    // In transactions of APPLY_BATCH rows: a commit per row was most of a large pull's time.
    for (let from = 0; from < actions.length; from += APPLY_BATCH) {
      this.deps.files.inTransaction(() => {
        for (const action of actions.slice(from, from + APPLY_BATCH)) {
          if (action.kind === 'pull' && failed.has(blobKey(action.remote))) continue;
          this.applyOne(action);
        }
      });
      this.progress.report('applying', Math.min(from + APPLY_BATCH, actions.length), actions.length);
    }
    // Only now: a blob one pull replaced may be the very content another pull of this sync needs.
    for (const file of this.releasable.splice(0)) this.releaseBlob(file);
  }

  /** Blobs the applied remote changes may have freed, released once all of them are applied. */
  private readonly releasable: FileRecord[] = [];

  /** One remote change, applied locally only if the local row did not change since it was planned. */
  private applyOne(action: PlanAction): void {
    const { files, conflicts, clock } = this.deps;
    const now = isoUtc(clock.now());
    if (action.kind === 'pull') {
      if (action.local && !unchangedSince(files.get(action.local.stable_id), action.local)) return;
      if (!action.local && files.get(action.remote.stable_id)) return;
      const row = fromRemote(action.remote, action.local?.local_modified_at ?? now);
      if (action.local) files.update(row);
      else files.insert(row);
      if (action.local && action.local.hash !== row.hash) this.releasable.push(action.local);
      if (action.content) this.summary.downloaded++;
      else this.summary.metadata_synced++;
      this.summary.local_changed = true;
    } else if (action.kind === 'delete_local') {
      if (!unchangedSince(files.get(action.local.stable_id), action.local)) return;
      files.update({ ...action.local, deleted: true, sync_status: 'synced', remote_version: action.remote.version, updated_at: action.remote.updated_at });
      this.releasable.push(action.local);
      this.summary.deleted_local++;
      this.summary.local_changed = true;
    } else if (action.kind === 'mark_synced') {
      if (!unchangedSince(files.get(action.local.stable_id), action.local)) return;
      // Two instances made the same live state (two restores of one version): the remote's timestamps
      // are the shared ones, or the instances would disagree on them for good.
      const sameLive = action.remote && !action.remote.deleted && !action.local.deleted;
      files.update({
        ...action.local,
        ...(sameLive && { created_at: action.remote!.created_at, updated_at: action.remote!.updated_at }),
        sync_status: 'synced',
        sync_hash: action.local.hash,
        remote_version: action.remote?.version ?? action.local.remote_version,
      });
      if (action.local.deleted) this.releasable.push(action.local);
    } else if (action.kind === 'conflict') {
      const current = files.get(action.local.stable_id);
      if (!current) return;
      files.update({ ...current, sync_status: 'conflict' });
      conflicts.upsert(action.local.stable_id, action.type, action.remote, now);
      this.summary.conflicts++;
      this.deps.listener?.conflict?.({ stable_id: current.stable_id, filename: current.filename, conflict_type: action.type });
    }
  }

  /**
   * Uploads the blobs the remote lacks, writes the pushed rows into a new snapshot and commits it;
   * then marks those rows synced — only those the user did not change meanwhile.
   */
  private async pushLocalChanges(
    actions: PlanAction[],
    { snapshot, base, fresh, migrate }: OpenedSnapshot,
    handle: LockHandle,
  ): Promise<VersionHead | undefined> {
    const { metadata, state, files } = this.deps;
    const pushes = actions.filter(
      (a): a is Extract<PlanAction, { kind: 'push' | 'push_delete' }> => a.kind === 'push' || a.kind === 'push_delete',
    );
    // Nothing to publish: no commit (a new remote is committed even when empty, to exist; a format-1
    // remote, to be converted).
    if (pushes.length === 0 && !fresh && !migrate) return undefined;
    const snapshotRepoId = snapshot.repoId;
    const pushed = pushes.flatMap((p) => (p.kind === 'push' && p.content ? [p.local] : []));
    const uploaded = await this.transfers.upload(pushed, base);
    await this.deps.checkpoint?.('after_blob_upload');
    const version = (base?.version ?? 0) + 1;
    const committed = pushes.filter((p) => p.kind === 'push_delete' || !uploaded.failed.has(blobKey(p.local)));
    const rows = committed.map((push) => toRemote(push.local, version));
    this.progress.report('committing', 0, 1);
    let recorded = false;
    const info = {
      repo: snapshotRepoId,
      instance: this.deps.instanceId,
      committedAt: isoUtc(this.deps.clock.now()),
      compact: fresh || migrate,
      ...(uploaded.allShards && { allShards: true }),
    };
    const { head: newHead, journal, replaced } = await metadata.commit(snapshot, rows, base, info, {
      ...(this.deps.conditionalSwitch && { conditional: this.deps.conditionalSwitch }),
      // Right before version.txt moves: a sync that stalled past its lock's expiry must not commit.
      beforeSwitch: async (head) => {
        await this.deps.checkpoint?.('before_version_switch');
        if (!(await handle.verify())) throw new LockLostError();
        // Recorded before the switch: if this process dies right after it, the next sync finds the
        // commit on the remote and settles its rows (`settleLastCommit`).
        if (recorded) return;
        state.recordCommit(
          { id: head.commit, version: head.version, base: base?.version ?? 0, settled: false, ...(this.mayLandLate && { checkBlobs: true }) },
          committed.map((p) => ({ stable_id: p.local.stable_id, fingerprint: fingerprint(p.local) })),
        );
        recorded = true;
      },
    });
    recordReplaced(this.deps.history, replaced, newHead);
    recordJournal(this.deps.history, journal);
    await this.deps.checkpoint?.('after_commit');
    await this.confirmLateCommit(handle, rows);
    // The commit names every blob uploaded for it: nothing is left to skip next time.
    state.clearUploadedBlobs();
    const released: FileRecord[] = [];
    // In transactions of APPLY_BATCH rows (a commit per row made a 1M-file first push take minutes).
    for (let from = 0; from < committed.length; from += APPLY_BATCH) {
      files.inTransaction(() => {
        for (const push of committed.slice(from, from + APPLY_BATCH)) {
          const current = files.get(push.local.stable_id);
          if (!current) continue;
          const untouched = unchangedSince(current, push.local);
          files.update({
            ...current,
            sync_status: untouched ? 'synced' : current.sync_status,
            sync_hash: push.local.hash,
            remote_version: version,
          });
          if (push.kind === 'push_delete') {
            this.summary.deleted_remote++;
            if (untouched) released.push(current);
          } else if (push.content) {
            this.summary.uploaded++;
            // Edited during this sync: the store kept the pushed content for the look after the
            // switch (`FileServiceDeps.uploadedUncommitted`); that is done, so it may go now.
            if (current.hash !== push.local.hash) released.push(push.local);
          } else {
            this.summary.metadata_synced++;
          }
        }
      });
    }
    for (const file of released) this.releaseBlob(file);
    if (fresh) state.set(SYNC_STATE_KEYS.repoId, snapshotRepoId);
    state.markCommitSettled();
    return newHead;
  }

  /** Whether this sync's version switch can land after its lock was lost (see late-switch.ts). */
  private get mayLandLate(): boolean {
    return !(this.deps.conditionalSwitch?.ifMatch && this.deps.lock.atomic);
  }

  /**
   * Right after a switch that may have landed late: a lock no longer ours means another holder may
   * have committed and collected garbage in between, deleting blobs this commit names.
   */
  private async confirmLateCommit(handle: LockHandle, rows: readonly RemoteFileRow[]): Promise<void> {
    if (!this.deps.state.lastCommit()?.checkBlobs) return;
    if (!(await handle.verify())) await this.restoreBlobs(rows.filter((row) => !row.deleted));
    this.deps.state.markCommitBlobsChecked();
  }

  /**
   * Asked by the GC before each batch of deletions: the lock is still ours, and where a switch can
   * land late, version.txt still names the head the GC judges blobs by — a late switch landing
   * mid-GC names blobs this GC would take, and its author may have looked for them already.
   */
  private async gcMayGoOn(handle: LockHandle, head: VersionHead): Promise<boolean> {
    if (!(await handle.verify())) return false;
    return !this.mayLandLate || (await this.deps.metadata.readHead())?.commit === head.commit;
  }

  /** A sync killed between a switch that may have landed late and its look at the blobs: look now. */
  private async checkLastCommitBlobs(snapshot: RemoteSnapshot): Promise<void> {
    const { state } = this.deps;
    const last = state.lastCommit();
    if (!last?.checkBlobs) return;
    // A commit the remote no longer holds is re-queued whole (`requeueLostCommit`), content included.
    if (snapshot.recentCommits.includes(last.id)) {
      const named = state.lastCommitRows().flatMap((id) => {
        const row = snapshot.get(id);
        return row && !row.deleted && row.version === last.version ? [row] : [];
      });
      await this.restoreBlobs(named);
    }
    state.markCommitBlobsChecked();
  }

  private restoreBlobs(rows: readonly RemoteFileRow[]): Promise<unknown> {
    const { remote, blobs, transferWorkers, listener } = this.deps;
    return restoreCommitBlobs({ remote, blobs, transferWorkers, message: (text) => listener?.message?.(text) }, rows);
  }

  /**
   * Rows of the snapshot that failed the checks (docs/design.md#untrusted-remotes): skipped, counted and announced once per
   * sync. They are not errors: the sync moves past them (`lastSeen` advances), and a repaired row
   * comes back as a new version. A bad row reads as absent, never as a deletion: a local file
   * keeps its last good state, and its next local change publishes a good row over the bad one.
   */
  private reportRejected(snapshot: RemoteSnapshot): void {
    const rejected = [...snapshot.rejected.values()];
    this.summary.skipped_rows = rejected.length;
    this.rejectedText = describeRejected(rejected);
    if (rejected.length > 0) this.deps.listener?.message?.(`Skipped ${rejected.length} invalid remote row(s): ${this.rejectedText}`);
  }

  private rejectedText = '';

  private dryRunSummary(actions: PlanAction[], head: VersionHead | undefined, snapshot: RemoteSnapshot): SyncSummary {
    this.reportRejected(snapshot);
    const summary = dryRunSummary(actions, { ...this.summary, new_version: head?.version ?? null });
    if (this.summary.skipped_rows) summary.message += `; ${this.skippedPart()}`;
    return summary;
  }

  private describe(requeued: number): string {
    const s = this.summary;
    const parts = [
      s.uploaded && `${s.uploaded} uploaded`,
      s.downloaded && `${s.downloaded} downloaded`,
      s.metadata_synced && `${s.metadata_synced} metadata-only`,
      s.deleted_local && `${s.deleted_local} deleted here`,
      s.deleted_remote && `${s.deleted_remote} deleted on the remote`,
      s.conflicts && `${s.conflicts} in conflict`,
      s.errors && `${s.errors} failed (retried next sync)`,
      requeued && `${requeued} re-queued from a lost commit`,
      s.skipped_rows && this.skippedPart(),
    ].filter(Boolean);
    return parts.length > 0 ? `Synced: ${parts.join(', ')}` : 'In sync';
  }

  private skippedPart(): string {
    return `${this.summary.skipped_rows} invalid remote row(s) skipped (${this.rejectedText})`;
  }

  private releaseBlob(file: FileRecord): void {
    const { blobs, files } = this.deps;
    blobs.removeIfUnreferenced(file.hash, file.file_type, (hash, ext) => files.isBlobReferenced(hash, ext));
  }
}
