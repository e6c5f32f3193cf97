import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

/** Keys of the per-instance sync state (docs/design.md#local-data-model). */
export const SYNC_STATE_KEYS = {
  instanceId: 'instance_id',
  /** The remote repository this instance syncs with: a remote with another id is refused. */
  repoId: 'remote_repo_id',
  lastRemoteVersion: 'last_remote_version',
  /** The commit `version.txt` named at the last sync: a different one at the same version means ours was replaced. */
  lastRemoteCommit: 'last_remote_commit',
  /** JSON `[[version, commit], …]`: the heads this instance was in step with, newest last. */
  seenCommits: 'seen_commits',
  lastSyncTime: 'last_sync_time',
  lastSyncSummary: 'last_sync_summary',
  /** UTC time of this instance's last remote garbage collection (at most one per interval). */
  lastGcTime: 'last_gc_time',
  /**
   * UTC time since when this instance has seen every commit of its remote (its file history is
   * complete from then on): set when it starts from a snapshot. It may collect remote garbage only
   * once this is older than the history window.
   */
  historySince: 'history_since',
  /** Why the last automatic GC was put off: said once per reason, not at every sync (cleared when it runs). */
  gcPutOff: 'gc_put_off',
  /**
   * Set while a catch-up runs, until the versions it read are recorded in the history: found at the
   * start of a sync, the last catch-up died in between (its state moved on, its versions were never
   * recorded), so the history is complete only from now on.
   */
  historyCatchingUp: 'history_catching_up',
  /** JSON `{id, version, base}` of this instance's last commit. */
  lastCommit: 'last_commit',
  /** JSON `{remote, capabilities}`: re-probed when the remote's address changes. */
  capabilities: 'remote_capabilities',
} as const;

/**
 * `uploaded_blob:<hash>.<ext>` → the remote it went to (its description): a blob this instance
 * uploaded and confirmed that no commit names yet. A sync killed after its uploads need not send
 * them again (an interrupted 160 MB sync re-sent all of it); forgotten once a commit names them.
 */
const UPLOADED_BLOB_PREFIX = 'uploaded_blob:';
/** Just past every key with the prefix (`;` follows `:`): a range the primary key index answers. */
const UPLOADED_BLOB_END = 'uploaded_blob;';

/** How many seen heads are kept: as many as a snapshot lists recent commits (RECENT_COMMITS). */
const SEEN_COMMITS = 50;

export interface CommitRecord {
  id: string;
  version: number;
  /** The version the commit was made on: where its rows go back to if it is found lost. */
  base: number;
  /**
   * Recorded before `version.txt` is switched, `settled` once the rows are marked synced after it. A
   * sync killed in between leaves it unsettled: the next sync settles the rows if the commit landed.
   */
  settled?: boolean;
  /**
   * Set when the switch may land late (not conditional: a server that ignores If-Match, or a lock
   * that is not atomic): the blobs the commit names are looked at once it landed, and put back if
   * another holder's GC took them meanwhile (`restoreCommitBlobs`); cleared once that is done.
   */
  checkBlobs?: boolean;
}

/** Per-instance sync state: instance id, remote repository id, last seen version, last commit, … */
export class SyncStateStore {
  private readonly getStmt: Statement<[string], { value: string }>;
  private readonly setStmt: Statement<[string, string]>;
  private readonly deleteStmt: Statement<[string]>;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT value FROM sync_state WHERE key = ?');
    this.setStmt = db.prepare(
      'INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.deleteStmt = db.prepare('DELETE FROM sync_state WHERE key = ?');
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }

  delete(key: string): void {
    this.deleteStmt.run(key);
  }

  /** Returns the stored value, or stores and returns `make()` when there is none. */
  getOrCreate(key: string, make: () => string): string {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    const value = make();
    this.set(key, value);
    return value;
  }

  /** The remote version this instance last synced to; undefined before its first sync. */
  lastSeenVersion(): number | undefined {
    const value = this.get(SYNC_STATE_KEYS.lastRemoteVersion);
    return value === undefined ? undefined : Number(value);
  }

  lastSeenCommit(): string | undefined {
    return this.get(SYNC_STATE_KEYS.lastRemoteCommit);
  }

  /** Records that this instance is in step with the remote at `head`. */
  markSeen(head: { version: number; commit: string }): void {
    this.db.transaction(() => {
      this.set(SYNC_STATE_KEYS.lastRemoteVersion, String(head.version));
      this.set(SYNC_STATE_KEYS.lastRemoteCommit, head.commit);
      const seen = this.seenCommits().filter(([version]) => version < head.version);
      seen.push([head.version, head.commit]);
      this.set(SYNC_STATE_KEYS.seenCommits, JSON.stringify(seen.slice(-SEEN_COMMITS)));
    })();
  }

  /** The last heads this instance was in step with (`[version, commit]`, oldest first). */
  seenCommits(): [number, string][] {
    const value = this.get(SYNC_STATE_KEYS.seenCommits);
    return value === undefined ? [] : (JSON.parse(value) as [number, string][]);
  }

  /**
   * Steps back to an earlier head after the remote's history was rewritten past it: the seen heads
   * the remote no longer has are forgotten, and the next plans start from `head`.
   */
  rewindSeen(head: { version: number; commit: string } | undefined, keep: readonly [number, string][]): void {
    this.db.transaction(() => {
      if (head) {
        this.set(SYNC_STATE_KEYS.lastRemoteVersion, String(head.version));
        this.set(SYNC_STATE_KEYS.lastRemoteCommit, head.commit);
      } else {
        this.delete(SYNC_STATE_KEYS.lastRemoteVersion);
        this.delete(SYNC_STATE_KEYS.lastRemoteCommit);
      }
      this.set(SYNC_STATE_KEYS.seenCommits, JSON.stringify(keep));
    })();
  }

  /** Forgets the seen heads (a new repository starts a new history). */
  clearSeenCommits(): void {
    this.delete(SYNC_STATE_KEYS.seenCommits);
  }

  lastCommit(): CommitRecord | undefined {
    const value = this.get(SYNC_STATE_KEYS.lastCommit);
    return value === undefined ? undefined : (JSON.parse(value) as CommitRecord);
  }

  lastCommitRows(): string[] {
    return this.lastCommitEdits().map((r) => r.stable_id);
  }

  /** The rows of the last commit, each with a fingerprint of the state it pushed. */
  lastCommitEdits(): { stable_id: string; fingerprint: string | null }[] {
    return this.db.prepare<[], { stable_id: string; fingerprint: string | null }>('SELECT stable_id, fingerprint FROM last_commit_rows').all();
  }

  /** Remembers a commit and the rows it carried (with fingerprints), replacing the previous one. */
  recordCommit(commit: CommitRecord, rows: readonly { stable_id: string; fingerprint?: string }[]): void {
    this.db.transaction(() => {
      this.set(SYNC_STATE_KEYS.lastCommit, JSON.stringify(commit));
      this.db.exec('DELETE FROM last_commit_rows');
      const insert = this.db.prepare('INSERT OR IGNORE INTO last_commit_rows (stable_id, fingerprint) VALUES (?, ?)');
      for (const row of rows) insert.run(row.stable_id, row.fingerprint ?? null);
    })();
  }

  /** The last commit's rows are marked synced (see `CommitRecord.settled`). */
  markCommitSettled(): void {
    const last = this.lastCommit();
    if (last) this.set(SYNC_STATE_KEYS.lastCommit, JSON.stringify({ ...last, settled: true }));
  }

  /** The last commit's blobs were looked at after its switch (see `CommitRecord.checkBlobs`). */
  markCommitBlobsChecked(): void {
    const last = this.lastCommit();
    if (last?.checkBlobs) this.set(SYNC_STATE_KEYS.lastCommit, JSON.stringify({ ...last, checkBlobs: false }));
  }

  /** Blobs uploaded (and confirmed) to the remote `where` that no commit names yet. */
  uploadedBlobs(where: string): string[] {
    return this.db
      .prepare<[string, string, string], { key: string }>('SELECT key FROM sync_state WHERE key >= ? AND key < ? AND value = ?')
      .all(UPLOADED_BLOB_PREFIX, UPLOADED_BLOB_END, where)
      .map((row) => row.key.slice(UPLOADED_BLOB_PREFIX.length));
  }

  /** Whether the blob `key` (`<hash>.<ext>`) was uploaded to any remote and no commit names it yet. */
  hasUploadedBlob(key: string): boolean {
    return this.get(`${UPLOADED_BLOB_PREFIX}${key}`) !== undefined;
  }

  recordUploadedBlob(key: string, where: string): void {
    this.set(`${UPLOADED_BLOB_PREFIX}${key}`, where);
  }

  /** Once a commit names the uploads. */
  clearUploadedBlobs(): void {
    this.db.prepare('DELETE FROM sync_state WHERE key >= ? AND key < ?').run(UPLOADED_BLOB_PREFIX, UPLOADED_BLOB_END);
  }

  clearLastCommit(): void {
    this.db.transaction(() => {
      this.delete(SYNC_STATE_KEYS.lastCommit);
      this.db.exec('DELETE FROM last_commit_rows');
    })();
  }
}
