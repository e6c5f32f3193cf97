import type Database from 'better-sqlite3';
import { Sqlite } from '../store/sqlite.ts';
import { readStoredRow, toStored, type RejectedRow, type RemoteFileRow, type Stored } from '../domain/shared-row.ts';
import { AppError } from '../errors.ts';
import { RemoteCorruptError } from './errors.ts';
import { FORMAT_VERSION, RemoteFormatError } from './version-file.ts';

/** How many commit ids the remote remembers (lost-commit detection, docs/design.md#lost-commits-and-rewritten-history). */
export const RECENT_COMMITS = 50;

export type { SharedFileFields } from '../domain/shared-row.ts';
export { FORMAT_VERSION, RemoteFormatError };

const SCHEMA = `
  CREATE TABLE files (
    stable_id   TEXT PRIMARY KEY,
    hash        TEXT NOT NULL,
    filename    TEXT NOT NULL,
    file_type   TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    doc_id      TEXT,
    collections TEXT NOT NULL,
    labels      TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    deleted     INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     INTEGER NOT NULL
  );
  CREATE INDEX files_version ON files (version);
  CREATE INDEX files_hash ON files (hash);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

type StoredRow = Stored<RemoteFileRow>;

/** The columns every reader selects; a snapshot lacking one is not a docsync snapshot. */
const FILE_COLUMNS = [
  'stable_id', 'hash', 'filename', 'file_type', 'mime_type', 'size', 'doc_id',
  'collections', 'labels', 'metadata', 'deleted', 'created_at', 'updated_at', 'version',
];
const COLUMN_LIST = FILE_COLUMNS.join(', ');

/**
 * A metadata snapshot (docs/design.md#remote-layout-format-2) opened from a local file: the remote's `files` and `meta` tables.
 * The same file format serves as a compacted snapshot on the remote, as a format-1 snapshot being
 * migrated, and as each instance's *mirror*: its copy of the remote's shared state at the version it
 * last caught up to, kept in the data dir and moved forward by applying deltas.
 * One file, no journal left behind (`journal_mode = DELETE`), so it can be uploaded as it is.
 * Rows are input (docs/design.md#untrusted-remotes): every row read is checked, and one that fails is left out of every
 * answer and kept in `rejected`, for the sync to report. Reading never throws on a bad row.
 */
export class RemoteSnapshot {
  /** Rows left out because they failed the checks, by stable_id as found: reported once per sync. */
  readonly rejected = new Map<unknown, RejectedRow>();

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** A new, empty snapshot: the state of a remote that was just initialised. */
  static create(path: string, repoId: string): RemoteSnapshot {
    const db = new Sqlite(path);
    db.pragma('journal_mode = DELETE');
    db.exec(SCHEMA);
    const set = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    set.run('repo_id', repoId);
    set.run('format_version', String(FORMAT_VERSION));
    set.run('version', '0');
    set.run('recent_commits', '[]');
    return new RemoteSnapshot(db, path);
  }

  /** Opens a downloaded snapshot; refuses one that is not a docsync snapshot or is too new. */
  static open(path: string): RemoteSnapshot {
    let db: Database.Database | undefined;
    try {
      db = new Sqlite(path);
      db.pragma('journal_mode = DELETE');
      const snapshot = new RemoteSnapshot(db, path);
      const format = Number(snapshot.meta('format_version'));
      if (!Number.isInteger(format) || format < 1) throw new RemoteCorruptError('The metadata snapshot has no valid format_version');
      if (format > FORMAT_VERSION) throw new RemoteFormatError(format);
      if (!snapshot.meta('repo_id')) throw new RemoteCorruptError('The metadata snapshot has no repo_id');
      if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) throw new RemoteCorruptError('The metadata snapshot has no valid version');
      if (!isStringArray(parseJson(snapshot.meta('recent_commits') ?? '[]'))) {
        throw new RemoteCorruptError('The metadata snapshot has an invalid recent_commits list');
      }
      const columns = new Set(db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('files')").all().map((c) => c.name));
      const missing = FILE_COLUMNS.filter((c) => !columns.has(c));
      if (missing.length > 0) throw new RemoteCorruptError(`The metadata snapshot's files table lacks ${missing.join(', ')}`);
      return snapshot;
    } catch (error) {
      db?.close();
      if (error instanceof AppError) throw error;
      throw new RemoteCorruptError(`The metadata snapshot is not readable: ${(error as Error).message}`, { cause: error });
    }
  }

  get repoId(): string {
    return this.meta('repo_id')!;
  }

  get version(): number {
    return Number(this.meta('version'));
  }

  /** The commit of `version` (format 1 snapshots carry it as the last recent commit). */
  get commit(): string | undefined {
    return this.meta('commit') ?? this.recentCommits.at(-1);
  }

  get format(): number {
    return Number(this.meta('format_version'));
  }

  /** Checked when the snapshot is opened. */
  get recentCommits(): string[] {
    return JSON.parse(this.meta('recent_commits') ?? '[]') as string[];
  }

  /** Every valid row, tombstones included. */
  files(): RemoteFileRow[] {
    return this.validRows(this.stmt<[], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files`).all());
  }

  /** Up to `limit` valid live rows after `afterId` in id order: a whole state read page by page. */
  livePage(afterId: string, limit: number): { rows: RemoteFileRow[]; last: string | undefined } {
    const page = this.stmt<[string, number], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files WHERE deleted = 0 AND stable_id > ? ORDER BY stable_id LIMIT ?`)
      .all(afterId, limit);
    return { rows: this.validRows(page), last: page.at(-1)?.stable_id as string | undefined };
  }

  /** Valid rows that changed after `version` (what another instance has not seen yet). */
  changedSince(version: number): RemoteFileRow[] {
    return this.validRows(this.stmt<[number], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files WHERE version > ?`).all(version));
  }

  /** Whether some valid row (tombstones included) names the blob `(hash, fileType)`. */
  hasBlob(hash: string, fileType: string): boolean {
    const rows = this.stmt<[string, string], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files WHERE hash = ? AND file_type = ?`);
    for (const row of rows.iterate(hash, fileType)) if (this.valid(row)) return true;
    return false;
  }

  /**
   * Whether some valid *live* row names the blob: then the remote has it, no upload needed. Not a
   * tombstone: the blob of a file deleted long ago may have been collected (docs/design.md#history-trash-and-garbage-collection). A row that
   * fails the checks proves nothing, so the blob is uploaded.
   */
  hasLiveBlob(hash: string, fileType: string): boolean {
    const rows = this.stmt<[string, string], Record<string, unknown>>(
      `SELECT ${COLUMN_LIST} FROM files WHERE hash = ? AND file_type = ? AND deleted = 0`,
    );
    for (const row of rows.iterate(hash, fileType)) if (this.valid(row)) return true;
    return false;
  }

  /**
   * Moves the state forward by one delta: its rows, its version and commit, in one transaction (a
   * crash leaves the state at the version before or after, never between). Returns the rows it
   * replaced: earlier versions, which the file history may not have seen yet.
   */
  apply(version: number, commit: string, rows: readonly RemoteFileRow[], recent?: readonly string[]): RemoteFileRow[] {
    const replaced: RemoteFileRow[] = [];
    this.transaction(() => {
      for (const row of rows) {
        // Read quietly: a bad row being replaced is no news to report.
        const stored = this.stmt<[string], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files WHERE stable_id = ?`).get(row.stable_id);
        const reading = stored && readStoredRow(stored);
        if (reading?.ok && reading.row.version < row.version) replaced.push(reading.row);
        this.upsert(row);
      }
      this.stamp(version, commit, recent);
    });
    return replaced;
  }

  /** Marks a state as format 2 (a migrated format-1 snapshot, or a copy about to be published). */
  setFormat2(): void {
    this.setMeta('format_version', String(FORMAT_VERSION));
  }

  /** Writes a compact copy of this state to `path` (a new snapshot to publish). */
  copyTo(path: string): void {
    this.db.prepare('VACUUM INTO ?').run(path);
  }

  /**
   * Content bytes the live rows name, each blob once: what a new instance's first pull fetches at
   * most (its progress total). Rows that fail the checks count too: a cheap bound, not an exact sum.
   */
  liveBlobBytes(): number {
    const sql = 'SELECT COALESCE(SUM(size), 0) AS n FROM (SELECT MAX(size) AS size FROM files WHERE deleted = 0 GROUP BY hash, file_type)';
    return this.stmt<[], { n: number }>(sql).get()!.n;
  }

  /** Counts the rows (tombstones included). */
  rowCount(): number {
    return this.stmt<[], { n: number }>('SELECT count(*) AS n FROM files').get()!.n;
  }

  /** Records rows a delta carried that failed the checks: reported like bad snapshot rows. */
  noteRejected(rows: readonly RejectedRow[]): void {
    for (const row of rows) this.rejected.set(row.id, row);
  }

  /** The row of `stableId`, if there is one and it passes the checks (a bad row reads as absent). */
  get(stableId: string): RemoteFileRow | undefined {
    const row = this.stmt<[string], Record<string, unknown>>(`SELECT ${COLUMN_LIST} FROM files WHERE stable_id = ?`).get(stableId);
    return row && this.valid(row);
  }

  upsert(row: RemoteFileRow): void {
    this.stmt(
        `INSERT INTO files (stable_id, hash, filename, file_type, mime_type, size, doc_id, collections, labels, metadata,
           deleted, created_at, updated_at, version)
         VALUES (@stable_id, @hash, @filename, @file_type, @mime_type, @size, @doc_id, @collections, @labels, @metadata,
           @deleted, @created_at, @updated_at, @version)
         ON CONFLICT (stable_id) DO UPDATE SET hash = excluded.hash, filename = excluded.filename,
           file_type = excluded.file_type, mime_type = excluded.mime_type, size = excluded.size, doc_id = excluded.doc_id,
           collections = excluded.collections, labels = excluded.labels, metadata = excluded.metadata,
           deleted = excluded.deleted, created_at = excluded.created_at, updated_at = excluded.updated_at,
           version = excluded.version`,
      )
      .run(toStored(row));
  }

  /** Runs `work` in one transaction (many upserts). */
  transaction(work: () => void): void {
    this.db.transaction(work)();
  }

  /**
   * Stamps the snapshot as `version`, made by `commit`; keeps the last RECENT_COMMITS commit ids
   * (`recent` when the caller knows them: version.txt's list is the remote's word on it).
   */
  stamp(version: number, commit: string, recent?: readonly string[]): void {
    const commits = (recent ? [...recent] : [...this.recentCommits, commit]).slice(-RECENT_COMMITS);
    this.transaction(() => {
      this.setMeta('version', String(version));
      this.setMeta('commit', commit);
      this.setMeta('recent_commits', JSON.stringify(commits));
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Prepared statements, by SQL text: a delta of 100K rows would otherwise prepare 100K times. */
  private readonly statements = new Map<string, Database.Statement>();

  private stmt<P extends unknown[] | {} = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  private validRows(rows: Record<string, unknown>[]): RemoteFileRow[] {
    return rows.flatMap((row) => this.valid(row) ?? []);
  }

  private valid(stored: Record<string, unknown>): RemoteFileRow | undefined {
    const reading = readStoredRow(stored);
    if (reading.ok) return reading.row;
    this.rejected.set(stored.stable_id, reading.rejected);
    return undefined;
  }

  private meta(key: string): string | undefined {
    return this.stmt<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }

  private setMeta(key: string, value: string): void {
    this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
