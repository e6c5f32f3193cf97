import path from 'node:path';
import type Database from 'better-sqlite3';
import { Sqlite } from '../../src/store/sqlite.ts';
import { cryptoIdSource, newStableId } from '../../src/domain/ids.ts';
import { RemoteMetadataStore } from '../../src/remote/remote-metadata.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { RemoteSnapshot } from '../../src/remote/remote-snapshot.ts';
import type { VersionHead } from '../../src/remote/version-file.ts';
import { tempDir } from './instance.ts';

/**
 * Publishes a tampered copy of the current shared state: brought to the head through docsync's own
 * code (`catchUp` into a temp state file), changed with raw SQL by `tamper` (given the version the
 * commit will have), stamped as that version, then published as a snapshot-only commit with
 * `version.txt` naming it and its sha256. Readers at the previous version find no delta that covers
 * it, so the forged rows reach them through the snapshot.
 */
export async function commitTampered(remote: Remote, tamper: (db: Database.Database, version: number) => void): Promise<VersionHead> {
  const tmp = tempDir('docsync-tamper-');
  try {
    const metadata = new RemoteMetadataStore(remote, tmp.dir, cryptoIdSource);
    const head = await metadata.readHead();
    if (!head) throw new Error('commitTampered: the remote has no version.txt yet');
    const statePath = path.join(tmp.dir, 'state.db');
    (await metadata.catchUp(statePath, head)).state.close();
    const db = new Sqlite(statePath);
    try {
      tamper(db, head.version + 1);
    } finally {
      db.close();
    }
    const commit = newStableId(cryptoIdSource);
    const state = RemoteSnapshot.open(statePath);
    try {
      state.setFormat2();
      state.stamp(head.version + 1, commit, [...head.recent, commit]);
    } finally {
      state.close();
    }
    return await metadata.commitSnapshotFile(statePath, head, commit);
  } finally {
    tmp.remove();
  }
}

/** A raw row of the shared `files` table: every column, as stored (JSON text, `deleted` 0/1). */
export type RawRow = Record<string, unknown>;

/** Inserts (or replaces) rows exactly as given: no check of any kind. */
export function insertRawRows(db: Database.Database, rows: RawRow[]): void {
  const insert = db.prepare(
    `INSERT OR REPLACE INTO files (stable_id, hash, filename, file_type, mime_type, size, doc_id, collections, labels, metadata,
       deleted, created_at, updated_at, version)
     VALUES (@stable_id, @hash, @filename, @file_type, @mime_type, @size, @doc_id, @collections, @labels, @metadata,
       @deleted, @created_at, @updated_at, @version)`,
  );
  db.transaction(() => {
    for (const row of rows) insert.run(row);
  })();
}

/** The stored form of the row of `stableId` in `db`. */
export function rawRow(db: Database.Database, stableId: string): RawRow {
  const row = db.prepare('SELECT * FROM files WHERE stable_id = ?').get(stableId) as RawRow | undefined;
  if (!row) throw new Error(`no row ${stableId} in the snapshot`);
  return row;
}
