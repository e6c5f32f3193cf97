import type { Statement } from 'better-sqlite3';
import { mimeTypeOf, type FileRecord, type SyncStatus } from '../domain/file.ts';
import type { StableId } from '../domain/ids.ts';
import { toStored } from '../domain/shared-row.ts';
import { BadRequestError } from '../errors.ts';
import type { Db } from './database.ts';
import { decodeCursor, decodeSortCursor, decodeTrashCursor, encodeCursor, encodeSortCursor, encodeTrashCursor } from './list-cursors.ts';

export interface FileFilter {
  collection?: string;
  label?: string;
  docId?: string;
  /** Case-insensitive substring of the filename. */
  q?: string;
  includeDeleted?: boolean;
  /** Only rows with this sync status (served by the partial index for unsynced states). */
  status?: SyncStatus;
  /** Without it: newest first (upload order). */
  sort?: FileSort;
  order?: SortOrder;
  limit: number;
  cursor?: string;
  /** Rows to skip (instead of a cursor): a windowed list jumping far down fetches the page there. */
  offset?: number;
}

export type FileSort = 'name' | 'size' | 'modified' | 'type';
export type SortOrder = 'asc' | 'desc';

/**
 * The sortable columns. Each has an index on (deleted, key, stable_id) (migration 5) whose
 * collation the ORDER BY repeats, so a page reads only its rows whatever the table size.
 */
const SORTS: Record<FileSort, { expr: string; column: 'filename' | 'size' | 'updated_at' | 'file_type' }> = {
  name: { expr: 'filename COLLATE NOCASE', column: 'filename' },
  size: { expr: 'size', column: 'size' },
  modified: { expr: 'updated_at', column: 'updated_at' },
  type: { expr: 'file_type', column: 'file_type' },
};

export interface FilePage {
  files: FileRecord[];
  total: number;
  nextCursor: string | null;
}

interface FileRow {
  rowid: number;
  stable_id: string;
  hash: string;
  filename: string;
  file_type: string;
  mime_type: string;
  size: number;
  doc_id: string | null;
  collections: string;
  labels: string;
  metadata: string;
  deleted: number;
  created_at: string;
  updated_at: string;
  local_modified_at: string;
  sync_status: SyncStatus;
  sync_hash: string | null;
  remote_version: number | null;
}

const COLUMNS = `rowid, stable_id, hash, filename, file_type, mime_type, size, doc_id, collections, labels,
  metadata, deleted, created_at, updated_at, local_modified_at, sync_status, sync_hash, remote_version`;

/** The local `files` table (docs/design.md#local-data-model). Rows are keyed by `stable_id`; content lives in the blob store. */
export class SqliteFileRepository {
  private readonly insertStmt: Statement;
  private readonly updateStmt: Statement;
  private readonly getStmt: Statement<[string], FileRow>;
  private readonly countStmt: Statement<[string], { n: number }>;
  private readonly blobRefStmt: Statement<[string, string], { one: number }>;
  private readonly blobKeptStmt: Statement<[string, string, string], { one: number }>;
  private readonly pendingStmt: Statement<[], FileRow>;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(`INSERT INTO files (stable_id, hash, filename, file_type, mime_type, size, doc_id,
      collections, labels, metadata, deleted, created_at, updated_at, local_modified_at, sync_status, sync_hash,
      remote_version) VALUES (@stable_id, @hash, @filename, @file_type, @mime_type, @size, @doc_id, @collections,
      @labels, @metadata, @deleted, @created_at, @updated_at, @local_modified_at, @sync_status, @sync_hash,
      @remote_version)`);
    this.updateStmt = db.prepare(`UPDATE files SET hash = @hash, filename = @filename, file_type = @file_type,
      mime_type = @mime_type, size = @size, doc_id = @doc_id, collections = @collections, labels = @labels,
      metadata = @metadata, deleted = @deleted, created_at = @created_at, updated_at = @updated_at,
      local_modified_at = @local_modified_at, sync_status = @sync_status, sync_hash = @sync_hash,
      remote_version = @remote_version WHERE stable_id = @stable_id`);
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM files WHERE stable_id = ?`);
    this.countStmt = db.prepare('SELECT n FROM file_counts WHERE key = ?');
    this.pendingStmt = db.prepare(
      // No ORDER BY: it made SQLite scan the whole table instead of using the partial index (30 ms at 100K rows).
      `SELECT ${COLUMNS} FROM files WHERE sync_status != 'synced' AND sync_status != 'conflict'`,
    );
    // A tombstone keeps its blob until its deletion has been synced: until then it can be undone.
    this.blobRefStmt = db.prepare(`SELECT 1 AS one FROM files WHERE hash = ? AND file_type = ?
      AND (deleted = 0 OR sync_status != 'synced') LIMIT 1`);
    this.blobKeptStmt = db.prepare(`SELECT 1 AS one FROM files WHERE hash = ? AND file_type = ?
      AND (deleted = 0 OR sync_status != 'synced' OR updated_at >= ?) LIMIT 1`);
  }

  insert(file: FileRecord): void {
    this.insertStmt.run(toRow(file));
  }

  /**
   * Copies the live rows of a shared-state file (the remote's, `RemoteSnapshot`) in as synced rows,
   * in SQL: at 1M files, binding each row from JavaScript was most of a new instance's first sync.
   * Rows in `skipIds` (they failed the checks) and rows whose blob is in `missingBlobs` stay out; the
   * MIME type is derived from the filename, as for any remote row. Runs in transactions of `chunk`
   * rows, calling `progress` after each; returns how many rows came in. The table must be empty.
   */
  adoptFrom(
    statePath: string,
    options: { skipIds: Iterable<string>; missingBlobs: Iterable<{ hash: string; file_type: string }>; now: string; chunk?: number; progress?: (done: number) => void },
  ): number {
    const { db } = this;
    const chunk = options.chunk ?? 50_000;
    db.function('docsync_mime_of', { deterministic: true }, (filename: unknown) => mimeTypeOf(String(filename)));
    db.prepare('ATTACH DATABASE ? AS adopt_src').run(statePath);
    try {
      db.exec(`CREATE TEMP TABLE adopt_skip (stable_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TEMP TABLE adopt_missing (hash TEXT, file_type TEXT, PRIMARY KEY (hash, file_type)) WITHOUT ROWID;`);
      db.transaction(() => {
        const skip = db.prepare('INSERT OR IGNORE INTO adopt_skip (stable_id) VALUES (?)');
        for (const id of options.skipIds) skip.run(id);
        const missing = db.prepare('INSERT OR IGNORE INTO adopt_missing (hash, file_type) VALUES (?, ?)');
        for (const blob of options.missingBlobs) missing.run(blob.hash, blob.file_type);
      })();
      const bound = db.prepare<[string, number], { stable_id: string }>(
        'SELECT stable_id FROM adopt_src.files WHERE deleted = 0 AND stable_id > ? ORDER BY stable_id LIMIT 1 OFFSET ?',
      );
      const copy = db.prepare<[{ now: string; low: string; high: string }]>(`INSERT INTO files (stable_id, hash, filename, file_type, mime_type, size,
          doc_id, collections, labels, metadata, deleted, created_at, updated_at, local_modified_at, sync_status, sync_hash, remote_version)
        SELECT s.stable_id, s.hash, s.filename, s.file_type, docsync_mime_of(s.filename), s.size, s.doc_id, s.collections, s.labels,
          s.metadata, 0, s.created_at, s.updated_at, @now, 'synced', s.hash, s.version
        FROM adopt_src.files s
        WHERE s.deleted = 0 AND s.stable_id > @low AND s.stable_id <= @high
          AND NOT EXISTS (SELECT 1 FROM adopt_skip k WHERE k.stable_id = s.stable_id)
          AND NOT EXISTS (SELECT 1 FROM adopt_missing m WHERE m.hash = s.hash AND m.file_type = s.file_type)
        ORDER BY s.stable_id`);
      let adopted = 0;
      for (let low = ''; ; ) {
        // The last id of this chunk, or (past the end) the highest possible one.
        const high = bound.get(low, chunk - 1)?.stable_id ?? '\uffff';
        adopted += db.transaction(() => copy.run({ now: options.now, low, high }).changes)();
        options.progress?.(adopted);
        if (high === '\uffff') break;
        low = high;
      }
      return adopted;
    } finally {
      db.exec('DROP TABLE IF EXISTS temp.adopt_skip; DROP TABLE IF EXISTS temp.adopt_missing;');
      db.prepare('DETACH DATABASE adopt_src').run();
    }
  }

  /** Runs `work` in one transaction: many small writes cost one commit, not one each. */
  inTransaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /** Inserts many rows in one transaction (imports, benchmarks). */
  insertMany(files: Iterable<FileRecord>): void {
    this.db.transaction(() => {
      for (const file of files) this.insertStmt.run(toRow(file));
    })();
  }

  get(id: StableId | string): FileRecord | undefined {
    const row = this.getStmt.get(id);
    return row && fromRow(row);
  }

  /** Replaces the stored row with `file` (same stable_id). */
  update(file: FileRecord): void {
    const result = this.updateStmt.run(toRow(file));
    if (result.changes !== 1) throw new Error(`update of missing file ${file.stable_id}`);
  }

  list(filter: FileFilter): FilePage {
    const { where, params } = filterConditions(filter);
    const total = this.countMatching(where, params, filter);
    if (filter.sort === undefined) return this.listNewest(where, params, filter, total);
    const sort = SORTS[filter.sort];
    const dir = filter.order === 'desc' ? 'DESC' : 'ASC';
    const pageWhere = [...where];
    const pageParams = [...params];
    if (filter.cursor !== undefined) {
      // Keyset: rows strictly after the last one shown in (key, stable_id) order, so a page never
      // repeats or skips a row however many rows share a key.
      pageWhere.push(`(${sort.expr}, stable_id) ${dir === 'ASC' ? '>' : '<'} (?, ?)`);
      pageParams.push(...decodeSortCursor(filter.cursor, filter.sort, filter.order ?? 'asc'));
    }
    const sql = `SELECT ${COLUMNS} FROM files ${whereClause(pageWhere)} ORDER BY ${sort.expr} ${dir}, stable_id ${dir} LIMIT ? OFFSET ?`;
    const rows = this.db.prepare<unknown[], FileRow>(sql).all(...pageParams, filter.limit + 1, filter.offset ?? 0);
    const more = rows.length > filter.limit;
    const page = more ? rows.slice(0, filter.limit) : rows;
    const last = page[page.length - 1];
    const nextCursor = more && last ? encodeSortCursor(filter.sort, filter.order ?? 'asc', last[sort.column], last.stable_id) : null;
    return { files: page.map(fromRow), total, nextCursor };
  }

  /** The ids matching `filter` after `after` in stable_id order (bulk actions walk a selection this way). */
  idsPage(filter: Omit<FileFilter, 'limit' | 'cursor'>, after: string, limit: number): StableId[] {
    const { where, params } = filterConditions(filter);
    const sql = `SELECT stable_id FROM files ${whereClause([...where, 'stable_id > ?'])} ORDER BY stable_id LIMIT ?`;
    return this.db
      .prepare<unknown[], { stable_id: StableId }>(sql)
      .all(...params, after, limit)
      .map((row) => row.stable_id);
  }

  /** The default order, newest first: by rowid, which only grows. */
  private listNewest(where: string[], params: unknown[], filter: FileFilter, total: number): FilePage {
    const pageWhere = [...where];
    const pageParams = [...params];
    if (filter.cursor !== undefined) {
      pageWhere.push('rowid < ?');
      pageParams.push(decodeCursor(filter.cursor));
    }
    const sql = `SELECT ${COLUMNS} FROM files ${whereClause(pageWhere)} ORDER BY rowid DESC LIMIT ? OFFSET ?`;
    const rows = this.db.prepare<unknown[], FileRow>(sql).all(...pageParams, filter.limit + 1, filter.offset ?? 0);
    const more = rows.length > filter.limit;
    const page = more ? rows.slice(0, filter.limit) : rows;
    const last = page[page.length - 1];
    return { files: page.map(fromRow), total, nextCursor: more && last ? encodeCursor(last.rowid) : null };
  }

  /**
   * Rows the next sync must push: `modified` and `pending_delete` (not `conflict`). Served by the
   * partial index, whose condition the query repeats word for word so SQLite can use it.
   */
  pendingChanges(): FileRecord[] {
    return this.pendingStmt.all().map(fromRow);
  }

  /** Rows last synced with a remote version above `version` (a full scan: for rare repairs only). */
  syncedAbove(version: number): FileRecord[] {
    return this.db.prepare<[number], FileRow>(`SELECT ${COLUMNS} FROM files WHERE remote_version > ?`).all(version).map(fromRow);
  }

  /** How many rows the next sync must push (conflicts wait for a person, not for a sync). */
  pendingCount(): number {
    return this.count('status:modified') + this.count('status:pending_delete');
  }

  /** Rows with `sync_status != 'synced'`: one read of the trigger-maintained counters. */
  unsyncedCount(): number {
    return this.count('status:modified') + this.count('status:pending_delete') + this.count('status:conflict');
  }

  countByStatus(status: SyncStatus): number {
    return this.count(`status:${status}`);
  }

  liveCount(): number {
    return this.count('live');
  }

  /**
   * Tombstones deleted at or after `since`, newest deletion first (the trash, docs/design.md#history-trash-and-garbage-collection). The cursor
   * holds the last row's (updated_at, stable_id), so deletions arriving meanwhile never shift a page.
   */
  listDeleted(since: string, page: { limit: number; cursor?: string }): { files: FileRecord[]; nextCursor: string | null } {
    const after = page.cursor === undefined ? undefined : decodeTrashCursor(page.cursor);
    const rows = this.db
      .prepare<unknown[], FileRow>(
        `SELECT ${COLUMNS} FROM files WHERE deleted = 1 AND updated_at >= ?
         ${after ? 'AND (updated_at, stable_id) < (?, ?)' : ''} ORDER BY updated_at DESC, stable_id DESC LIMIT ?`,
      )
      .all(since, ...(after ?? []), page.limit + 1);
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const last = shown[shown.length - 1];
    return { files: shown.map(fromRow), nextCursor: more && last ? encodeTrashCursor(last.updated_at, last.stable_id) : null };
  }

  /** Live files with this content (`docsync import` reports them as duplicates); served by `files_hash`. */
  liveWithHash(hash: string): FileRecord[] {
    return this.db.prepare<[string], FileRow>(`SELECT ${COLUMNS} FROM files WHERE hash = ? AND deleted = 0`).all(hash).map(fromRow);
  }

  /** Live files in creation order, a page at a time after `(created_at, stable_id)` (`docsync export`). */
  livePage(after: { createdAt: string; stableId: string } | undefined, limit: number): FileRecord[] {
    const rows = after
      ? this.db
          .prepare<[string, string, number], FileRow>(
            `SELECT ${COLUMNS} FROM files WHERE deleted = 0 AND (created_at, stable_id) > (?, ?) ORDER BY created_at, stable_id LIMIT ?`,
          )
          .all(after.createdAt, after.stableId, limit)
      : this.db.prepare<[number], FileRow>(`SELECT ${COLUMNS} FROM files WHERE deleted = 0 ORDER BY created_at, stable_id LIMIT ?`).all(limit);
    return rows.map(fromRow);
  }

  /** Whether any row still needs the blob `(hash, file_type)`. */
  isBlobReferenced(hash: string, fileType: string): boolean {
    return this.blobRefStmt.get(hash, fileType) !== undefined;
  }

  /**
   * Whether a row needs the blob `(hash, file_type)` kept on the remote: a live or unsynced one, or a
   * tombstone deleted at or after `since` (the trash restores it with its content).
   */
  isBlobKept(hash: string, fileType: string, since: string): boolean {
    return this.blobKeptStmt.get(hash, fileType, since) !== undefined;
  }

  private count(key: string): number {
    return this.countStmt.get(key)?.n ?? 0;
  }

  private countMatching(where: string[], params: unknown[], filter: FileFilter): number {
    if (where.length === 0) return this.totalCount();
    if (where.length === 1 && !filter.includeDeleted) return this.liveCount();
    const sql = `SELECT COUNT(*) AS n FROM files ${whereClause(where)}`;
    return this.db.prepare<unknown[], { n: number }>(sql).get(...params)?.n ?? 0;
  }

  /** Every row, tombstones included: each row has exactly one status. */
  totalCount(): number {
    return this.countByStatus('synced') + this.unsyncedCount();
  }
}

/** The WHERE conditions of a filter (everything but the page position). */
function filterConditions(filter: Omit<FileFilter, 'limit' | 'cursor'>): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (!filter.includeDeleted) where.push('deleted = 0');
  if (filter.collection !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(files.collections) WHERE value = ?)');
    params.push(filter.collection);
  }
  if (filter.label !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(files.labels) WHERE value = ?)');
    params.push(filter.label);
  }
  if (filter.status !== undefined) {
    where.push('sync_status = ?');
    params.push(filter.status);
  }
  if (filter.docId !== undefined) {
    where.push('doc_id = ?');
    params.push(filter.docId);
  }
  if (filter.q !== undefined && filter.q !== '') {
    where.push(`filename LIKE ? ESCAPE '\\'`);
    params.push(`%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  return { where, params };
}

function whereClause(conditions: string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

function toRow(file: FileRecord): Omit<FileRow, 'rowid'> {
  return toStored(file);
}

function fromRow(row: FileRow): FileRecord {
  const { rowid: _rowid, ...rest } = row;
  return {
    ...rest,
    stable_id: row.stable_id as StableId,
    collections: JSON.parse(row.collections) as string[],
    labels: JSON.parse(row.labels) as string[],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    deleted: row.deleted === 1,
  };
}
