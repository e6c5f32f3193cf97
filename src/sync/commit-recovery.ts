/**
 * What a sync repairs before it plans (docs/design.md#lost-commits-and-rewritten-history): a commit whose bookkeeping a
 * crash cut short, a commit of ours that a racing writer replaced, and a history that another
 * instance rewrote (a late unconditional switch, a lock that is not atomic). Each compares the
 * instance's rows with the shared state it just caught up to, and puts back in the queue what the
 * remote no longer holds, so nothing is lost and nothing is silently overwritten.
 */
import type { FileRecord } from '../domain/file.ts';
import { RECENT_COMMITS, type RemoteSnapshot } from '../remote/remote-snapshot.ts';
import type { VersionHead } from '../remote/version-file.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import type { SyncStateStore } from '../store/sync-state.ts';
import type { SyncListener } from './events.ts';
import { sameState } from './planner.ts';
import { fingerprint, historyOf } from './rows.ts';

export interface CommitRecoveryDeps {
  state: SyncStateStore;
  files: SqliteFileRepository;
  listener?: SyncListener;
  /** Frees a blob no row needs any more (a tombstone now settled). */
  releaseBlob(file: FileRecord): void;
}

export class CommitRecovery {
  constructor(private readonly deps: CommitRecoveryDeps) {}

  /**
   * Whether a remote that went back a version is a late switch rather than an older copy: where the
   * server ignores preconditions, a sync frozen before its switch can land version n+1 after others
   * committed n+1 and n+2. Its head is a commit this instance never saw, built on history it shares;
   * the rewritten-history repair then re-publishes what only this instance still holds. A head this
   * instance saw before, or one with no shared history, is an older copy put back: refused.
   */
  lateSwitchExplains(snapshot: RemoteSnapshot, head: VersionHead): boolean {
    const seen = this.deps.state.seenCommits();
    if (seen.some(([, commit]) => commit === head.commit)) return false;
    const history = historyOf(snapshot);
    return seen.some(([version, commit]) => version < head.version && history.get(version) === commit);
  }

  /**
   * Finishes the bookkeeping of a commit whose sync died right after switching `version.txt`: its
   * rows, still `modified`, are marked synced at its version if they still hold what it published.
   * Otherwise a later edit of them made elsewhere would look like a conflict with their own past.
   */
  settleLastCommit(snapshot: RemoteSnapshot): void {
    const { state, files } = this.deps;
    const last = state.lastCommit();
    if (!last || last.settled !== false || !snapshot.recentCommits.includes(last.id)) return;
    for (const pushed of state.lastCommitEdits()) {
      const file = files.get(pushed.stable_id);
      if (file?.sync_status !== 'modified' && file?.sync_status !== 'pending_delete') continue;
      // Untouched since the push; the remote may hold a later version of it, which the plan pulls.
      if (fingerprint(file) !== pushed.fingerprint || !snapshot.get(file.stable_id)) continue;
      files.update({ ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: last.version });
      if (file.deleted) this.deps.releaseBlob(file);
    }
    state.markCommitSettled();
  }
  /**
   * Lost-commit detection (docs/design.md#lost-commits-and-rewritten-history): if our last commit is not among the remote's recent commits, a
   * racing writer replaced it (possible where the lock is not atomic). Its rows go back in the queue,
   * based on the version the commit was made on, so the next plan merges them with what won.
   */
  requeueLostCommit(snapshot: RemoteSnapshot): { requeued: number; base: number } | undefined {
    const { state, files } = this.deps;
    const last = state.lastCommit();
    if (!last || snapshot.recentCommits.includes(last.id)) return undefined;
    if (snapshot.version - last.version >= RECENT_COMMITS) return undefined; // Fell off the list by age, not lost.
    let requeued = 0;
    for (const id of state.lastCommitRows()) {
      const file = files.get(id);
      if (file?.sync_status !== 'synced' || file.remote_version !== last.version) continue;
      files.update({ ...file, sync_status: file.deleted ? 'pending_delete' : 'modified', remote_version: last.base });
      requeued++;
    }
    state.clearLastCommit();
    return { requeued, base: last.base };
  }
  /**
   * A commit this instance saw is gone from the remote's history: a late or racing writer replaced
   * it (a sync frozen right before an unconditional version switch, or a lock that is not atomic).
   * Its author re-queues its own rows (`requeueLostCommit`); every instance that pulled it holds rows
   * "synced" with a version the remote no longer has, which the normal plan (version numbers only)
   * would never look at again. Those rows are compared with the remote as it is: the same state is
   * simply re-based; anything else becomes a local change on top of the fork point, so the next plan
   * re-publishes it where the remote did not change since, and reports a conflict where it did —
   * nothing the lost commit carried is dropped or silently overwritten. A file the remote never had
   * is published again, a deletion of it too (so no copy elsewhere brings it back).
   */
  repairRewrittenHistory(snapshot: RemoteSnapshot): { fork: number; requeued: number } | undefined {
    const { state, files } = this.deps;
    const recent = snapshot.recentCommits;
    const history = historyOf(snapshot);
    const seen = state.seenCommits();
    let rewritten = false;
    let fork: [number, string] | undefined;
    for (const [version, commit] of seen) {
      const theirs = history.get(version);
      if (theirs === undefined) continue; // Older than the remote's memory: nothing to compare.
      if (theirs === commit) fork = [version, commit];
      else rewritten = true;
    }
    if (!rewritten) return undefined;
    // The last version both histories share (as far as this instance can tell).
    const shared = fork?.[0] ?? Math.max(0, snapshot.version - recent.length);
    let requeued = 0;
    for (const file of files.syncedAbove(shared)) {
      if (file.sync_status === 'conflict') continue;
      const remote = snapshot.get(file.stable_id);
      if (remote && sameState(file, remote)) {
        files.update({ ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: remote.version });
        continue;
      }
      const status = file.deleted ? 'pending_delete' : 'modified';
      // A live file the remote lacks is new to it; a tombstone keeps a base, so it is pushed.
      const base = !remote && !file.deleted ? null : shared;
      files.update({ ...file, sync_status: status, remote_version: base });
      requeued++;
    }
    // Only once the rows are repaired (a crash before this repeats the repair, which is idempotent).
    const sharedHead = fork ?? (history.has(shared) ? ([shared, history.get(shared)!] as [number, string]) : undefined);
    state.rewindSeen(
      sharedHead && { version: sharedHead[0], commit: sharedHead[1] },
      seen.filter(([version, commit]) => version <= shared && history.get(version) === commit),
    );
    this.deps.listener?.message?.(
      `The remote's history was rewritten after version ${shared} (a commit this instance had seen is gone); ${requeued} file(s) re-queued`,
    );
    return { fork: shared, requeued };
  }
}
