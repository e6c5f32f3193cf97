import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

/** Keys of the per-instance sync state (SPEC §1). */
export const SYNC_STATE_KEYS = {
  instanceId: 'instance_id',
  /** The remote repository this instance syncs with: a remote with another id is refused. */
  repoId: 'remote_repo_id',
  lastRemoteVersion: 'last_remote_version',
  /** The commit `version.txt` named at the last sync: a different one at the same version means ours was replaced. */
  lastRemoteCommit: 'last_remote_commit',
  lastSyncTime: 'last_sync_time',
  lastSyncSummary: 'last_sync_summary',
  /** JSON `{id, version, base}` of this instance's last commit. */
  lastCommit: 'last_commit',
  /** JSON `{remote, capabilities}`: re-probed when the remote's address changes. */
  capabilities: 'remote_capabilities',
} as const;

export interface CommitRecord {
  id: string;
  version: number;
  /** The version the commit was made on: where its rows go back to if it is found lost. */
  base: number;
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
    })();
  }

  lastCommit(): CommitRecord | undefined {
    const value = this.get(SYNC_STATE_KEYS.lastCommit);
    return value === undefined ? undefined : (JSON.parse(value) as CommitRecord);
  }

  lastCommitRows(): string[] {
    return this.db.prepare<[], { stable_id: string }>('SELECT stable_id FROM last_commit_rows').all().map((r) => r.stable_id);
  }

  /** Remembers a commit and the rows it carried, replacing the previous one. */
  recordCommit(commit: CommitRecord, rowIds: readonly string[]): void {
    this.db.transaction(() => {
      this.set(SYNC_STATE_KEYS.lastCommit, JSON.stringify(commit));
      this.db.exec('DELETE FROM last_commit_rows');
      const insert = this.db.prepare('INSERT OR IGNORE INTO last_commit_rows (stable_id) VALUES (?)');
      for (const id of rowIds) insert.run(id);
    })();
  }

  clearLastCommit(): void {
    this.db.transaction(() => {
      this.delete(SYNC_STATE_KEYS.lastCommit);
      this.db.exec('DELETE FROM last_commit_rows');
    })();
  }
}
