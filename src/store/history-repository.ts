import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { toStored, type RemoteFileRow, type Stored } from '../domain/shared-row.ts';

/** The commit a set of row versions arrived in. */
export interface CommitInfo {
  /** The remote version the commit made. */
  version: number;
  /** The commit's id. */
  commit: string;
  /** When it was committed (UTC ISO-8601). */
  committed_at: string;
  /** The instance that made the commit. */
  instance_id: string;
}

/**
 * One version of a file as a commit shared it: the full shared row, plus the commit it came in.
 * `version` is the row's own version (the remote version at which the row changed).
 */
export interface FileVersion extends RemoteFileRow {
  commit: string;
  committed_at: string;
  instance_id: string;
}

/** A row of `file_versions`: a shared row as stored, with the commit that made it. */
type StoredVersion = Stored<RemoteFileRow> & { commit_id: string; committed_at: string; instance_id: string };

const COLUMNS = `stable_id, version, hash, filename, file_type, mime_type, size, doc_id, collections, labels,
  metadata, deleted, created_at, updated_at, commit_id, committed_at, instance_id`;

/**
 * Every version of every file this instance has seen committed (docs/design.md#history-trash-and-garbage-collection): the sync records the rows
 * of each commit it publishes or pulls; history, trash and restore read them; pruning keeps the
 * table to the history window. Rows are stored as the commit carried them (already checked).
 */
export class HistoryRepository {
  private readonly insertStmt: Statement;
  private readonly versionsStmt: Statement<[string], StoredVersion>;
  private readonly getStmt: Statement<[string, number], StoredVersion>;
  private readonly namesBlobStmt: Statement<[{ hash: string; type: string; since: string }], { one: number }>;
  private readonly pruneStmt: Statement<[{ before: string }]>;

  constructor(private readonly db: Database.Database) {
    // The same (stable_id, version) again (a pull after our own publish, a replayed commit) is ignored.
    // Not `INSERT OR IGNORE`: that would also drop a row breaking NOT NULL or CHECK without a word.
    this.insertStmt = db.prepare(`INSERT INTO file_versions (${COLUMNS}) VALUES (@stable_id, @version, @hash,
      @filename, @file_type, @mime_type, @size, @doc_id, @collections, @labels, @metadata, @deleted, @created_at,
      @updated_at, @commit_id, @committed_at, @instance_id) ON CONFLICT (stable_id, version) DO NOTHING`);
    this.versionsStmt = db.prepare(`SELECT ${COLUMNS} FROM file_versions WHERE stable_id = ? ORDER BY version DESC`);
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM file_versions WHERE stable_id = ? AND version = ?`);
    // A version committed before the window start that was still the file's state when the window
    // began (no later version before it) is inside the window too: restoring "as it was then" needs it.
    this.namesBlobStmt = db.prepare(`SELECT 1 AS one FROM file_versions v
      WHERE v.hash = @hash AND v.file_type = @type AND v.deleted = 0 AND (v.committed_at >= @since OR NOT EXISTS (
        SELECT 1 FROM file_versions w WHERE w.stable_id = v.stable_id AND w.version > v.version AND w.committed_at < @since))
      LIMIT 1`);
    // Only versions replaced before the window start go: each file keeps its state at the window's
    // start (and so its newest version, whatever its age: what the file is now, or its tombstone).
    this.pruneStmt = db.prepare(`DELETE FROM file_versions WHERE committed_at < @before
      AND EXISTS (SELECT 1 FROM file_versions w WHERE w.stable_id = file_versions.stable_id
        AND w.version > file_versions.version AND w.committed_at < @before)`);
  }

  /** Records the rows of one commit, in one transaction. */
  record(commit: CommitInfo, rows: readonly RemoteFileRow[]): void {
    this.db.transaction(() => {
      for (const row of rows) this.insertStmt.run(toStoredVersion(commit, row));
    })();
  }

  /** Every recorded version of a file, newest first. */
  versionsOf(stableId: string): FileVersion[] {
    return this.versionsStmt.all(stableId).map(fromStored);
  }

  get(stableId: string, version: number): FileVersion | undefined {
    const stored = this.getStmt.get(stableId, version);
    return stored && fromStored(stored);
  }

  /**
   * Whether some version inside the window that starts at `since` names the blob `(hash, fileType)`:
   * committed since, or still the file's state at `since`. GC must keep it.
   */
  namesBlob(hash: string, fileType: string, since: string): boolean {
    return this.namesBlobStmt.get({ hash, type: fileType, since }) !== undefined;
  }

  /** Removes versions replaced before `before` (each file keeps its state at `before`); returns how many went. */
  prune(before: string): number {
    return this.pruneStmt.run({ before }).changes;
  }
}

/** A version's row as the table stores it, with the commit that made it. */
function toStoredVersion(commit: CommitInfo, row: RemoteFileRow): StoredVersion {
  return { ...toStored(row), commit_id: commit.commit, committed_at: commit.committed_at, instance_id: commit.instance_id };
}

function fromStored(stored: StoredVersion): FileVersion {
  return {
    stable_id: stored.stable_id,
    version: stored.version,
    hash: stored.hash,
    filename: stored.filename,
    file_type: stored.file_type,
    mime_type: stored.mime_type,
    size: stored.size,
    doc_id: stored.doc_id,
    collections: JSON.parse(stored.collections) as string[],
    labels: JSON.parse(stored.labels) as string[],
    metadata: JSON.parse(stored.metadata) as Record<string, unknown>,
    deleted: stored.deleted === 1,
    created_at: stored.created_at,
    updated_at: stored.updated_at,
    commit: stored.commit_id,
    committed_at: stored.committed_at,
    instance_id: stored.instance_id,
  };
}
