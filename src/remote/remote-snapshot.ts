import Database from 'better-sqlite3';
import type { FileRecord } from '../domain/file.ts';
import { AppError } from '../errors.ts';
import { RemoteCorruptError } from './errors.ts';

/** The metadata format this build reads and writes. A newer remote is refused, never rewritten. */
export const FORMAT_VERSION = 1;
/** How many commit ids the remote remembers (lost-commit detection, SPEC §3). */
export const RECENT_COMMITS = 50;

/** The fields of a file every instance shares (SPEC §2): no local sync bookkeeping. */
export type SharedFileFields = Pick<
  FileRecord,
  'hash' | 'filename' | 'file_type' | 'mime_type' | 'size' | 'doc_id' | 'collections' | 'labels' | 'metadata' | 'deleted' | 'created_at' | 'updated_at'
>;

/** One row of the shared `files` table: the shareable fields of a file, its tombstone flag, its version. */
export interface RemoteFileRow extends SharedFileFields {
  stable_id: string;
  /** The remote version at which this row last changed. */
  version: number;
}

export class RemoteFormatError extends AppError {
  constructor(found: number) {
    super(
      'remote_format',
      `The remote was written by a newer docsync (metadata format ${found}; this build understands ${FORMAT_VERSION}): upgrade docsync`,
      409,
    );
  }
}

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

interface StoredRow extends Omit<RemoteFileRow, 'collections' | 'labels' | 'metadata' | 'deleted'> {
  collections: string;
  labels: string;
  metadata: string;
  deleted: number;
}

/**
 * A metadata snapshot (SPEC §2) opened from a local file: the remote's `files` and `meta` tables.
 * One file, no journal left behind (`journal_mode = DELETE`), so it can be uploaded as it is.
 */
export class RemoteSnapshot {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** A new, empty snapshot: the state of a remote that was just initialised. */
  static create(path: string, repoId: string): RemoteSnapshot {
    const db = new Database(path);
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
      db = new Database(path);
      db.pragma('journal_mode = DELETE');
      const snapshot = new RemoteSnapshot(db, path);
      const format = Number(snapshot.meta('format_version'));
      if (!Number.isInteger(format) || format < 1) throw new RemoteCorruptError('The metadata snapshot has no valid format_version');
      if (format > FORMAT_VERSION) throw new RemoteFormatError(format);
      if (!snapshot.meta('repo_id')) throw new RemoteCorruptError('The metadata snapshot has no repo_id');
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

  get recentCommits(): string[] {
    return JSON.parse(this.meta('recent_commits') ?? '[]') as string[];
  }

  /** Every row, tombstones included. */
  files(): RemoteFileRow[] {
    return this.db.prepare<[], StoredRow>('SELECT * FROM files').all().map(fromStored);
  }

  /** Rows that changed after `version` (what another instance has not seen yet). */
  changedSince(version: number): RemoteFileRow[] {
    return this.db.prepare<[number], StoredRow>('SELECT * FROM files WHERE version > ?').all(version).map(fromStored);
  }

  /** Whether some row names the blob `(hash, fileType)`: then the remote has it, no upload needed. */
  hasBlob(hash: string, fileType: string): boolean {
    return this.db.prepare('SELECT 1 FROM files WHERE hash = ? AND file_type = ? LIMIT 1').get(hash, fileType) !== undefined;
  }

  get(stableId: string): RemoteFileRow | undefined {
    const row = this.db.prepare<[string], StoredRow>('SELECT * FROM files WHERE stable_id = ?').get(stableId);
    return row && fromStored(row);
  }

  upsert(row: RemoteFileRow): void {
    this.db
      .prepare(
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

  /** Stamps the snapshot as `version`, made by `commit`; keeps the last RECENT_COMMITS commit ids. */
  stamp(version: number, commit: string): void {
    const commits = [...this.recentCommits, commit].slice(-RECENT_COMMITS);
    this.transaction(() => {
      this.setMeta('version', String(version));
      this.setMeta('recent_commits', JSON.stringify(commits));
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private meta(key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}

function toStored(row: RemoteFileRow): StoredRow {
  return {
    ...row,
    collections: JSON.stringify(row.collections),
    labels: JSON.stringify(row.labels),
    metadata: JSON.stringify(row.metadata),
    deleted: row.deleted ? 1 : 0,
  };
}

function fromStored(row: StoredRow): RemoteFileRow {
  return {
    ...row,
    collections: JSON.parse(row.collections) as string[],
    labels: JSON.parse(row.labels) as string[],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    deleted: row.deleted === 1,
  };
}
