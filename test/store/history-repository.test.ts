import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { HistoryRepository } from '../../src/store/history-repository.ts';
import { commitInfo } from '../support/history.ts';
import { tempDir } from '../support/instance.ts';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function sharedRow(stableId: string, version: number, fields: Partial<RemoteFileRow> = {}): RemoteFileRow {
  return {
    stable_id: stableId,
    hash: HASH_A,
    filename: 'paper.pdf',
    file_type: 'pdf',
    mime_type: 'application/pdf',
    size: 10,
    doc_id: null,
    collections: ['thesis'],
    labels: ['draft'],
    metadata: { pages: 3 },
    deleted: false,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    version,
    ...fields,
  };
}

const commit = commitInfo;

describe('HistoryRepository', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Db;
  let history: HistoryRepository;
  beforeEach(() => {
    tmp = tempDir();
    db = openDatabase(`${tmp.dir}/docsync.db`);
    history = new HistoryRepository(db);
  });
  afterEach(() => {
    db.close();
    tmp.remove();
  });

  it('keeps every field of a recorded row, and the commit it came in', () => {
    const row = sharedRow('aaaaaaaaaa', 1, { doc_id: 'doc-7', metadata: { nested: { a: [1, 2] } } });
    history.record(commit(1, '2026-01-02T00:00:00.000Z', 'laptop'), [row]);
    expect(history.get('aaaaaaaaaa', 1)).toEqual({
      ...row,
      commit: 'commit-1',
      committed_at: '2026-01-02T00:00:00.000Z',
      instance_id: 'laptop',
    });
    expect(history.get('aaaaaaaaaa', 2)).toBeUndefined();
    expect(history.get('bbbbbbbbbb', 1)).toBeUndefined();
  });

  it('ignores the same (stable_id, version) recorded again: the first record stays', () => {
    history.record(commit(1, '2026-01-02T00:00:00.000Z', 'laptop'), [sharedRow('aaaaaaaaaa', 1)]);
    history.record(commit(1, '2026-01-05T00:00:00.000Z', 'desktop'), [
      sharedRow('aaaaaaaaaa', 1, { filename: 'other.pdf' }),
      sharedRow('bbbbbbbbbb', 1),
    ]);
    expect(history.versionsOf('aaaaaaaaaa')).toHaveLength(1);
    expect(history.get('aaaaaaaaaa', 1)).toMatchObject({ filename: 'paper.pdf', instance_id: 'laptop' });
    expect(history.get('bbbbbbbbbb', 1)).toMatchObject({ instance_id: 'desktop' });
  });

  it('records a commit in one transaction: a bad row leaves none of its rows', () => {
    const bad = { ...sharedRow('bbbbbbbbbb', 2), hash: null } as unknown as RemoteFileRow;
    expect(() => history.record(commit(2, '2026-01-02T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 2), bad])).toThrow();
    expect(history.versionsOf('aaaaaaaaaa')).toEqual([]);
  });

  it('lists the versions of one file newest first, and only that file', () => {
    history.record(commit(3, '2026-01-03T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 3, { deleted: true })]);
    history.record(commit(1, '2026-01-01T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 1), sharedRow('bbbbbbbbbb', 1)]);
    history.record(commit(2, '2026-01-02T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 2, { hash: HASH_B })]);
    expect(history.versionsOf('aaaaaaaaaa').map((v) => [v.version, v.deleted, v.hash])).toEqual([
      [3, true, HASH_A],
      [2, false, HASH_B],
      [1, false, HASH_A],
    ]);
    expect(history.versionsOf('cccccccccc')).toEqual([]);
  });

  it('namesBlob looks at versions committed at or after `since`, and at the state each file had at `since`, by hash and file type', () => {
    history.record(commit(1, '2026-01-01T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 1, { hash: HASH_A })]);
    history.record(commit(2, '2026-01-10T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 2, { hash: HASH_B })]);
    expect(history.namesBlob(HASH_A, 'pdf', '2026-01-01T00:00:00.000Z')).toBe(true);
    // Still the file's content when a window starting then began: kept.
    expect(history.namesBlob(HASH_A, 'pdf', '2026-01-01T00:00:00.001Z')).toBe(true);
    // Replaced before the window began: not inside it.
    expect(history.namesBlob(HASH_A, 'pdf', '2026-01-10T00:00:00.001Z')).toBe(false);
    expect(history.namesBlob(HASH_B, 'pdf', '2026-01-10T00:00:00.000Z')).toBe(true);
    expect(history.namesBlob(HASH_B, 'txt', '2026-01-01T00:00:00.000Z')).toBe(false);
    expect(history.namesBlob('c'.repeat(64), 'pdf', '2000-01-01T00:00:00.000Z')).toBe(false);
  });

  it('prune removes versions replaced before the cut, keeping the state each file had at the cut (so never its newest)', () => {
    history.record(commit(1, '2026-01-01T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 1), sharedRow('bbbbbbbbbb', 1)]);
    history.record(commit(2, '2026-01-02T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 2), sharedRow('cccccccccc', 2, { deleted: true })]);
    history.record(commit(3, '2026-02-01T00:00:00.000Z'), [sharedRow('aaaaaaaaaa', 3)]);

    // a's v1 was still its state at the cut (v2 came at the cut): kept.
    expect(history.prune('2026-01-02T00:00:00.000Z')).toBe(0);
    expect(history.prune('2026-01-03T00:00:00.000Z')).toBe(1);
    expect(history.versionsOf('aaaaaaaaaa').map((v) => v.version)).toEqual([3, 2]);

    // Everything is older than this cut: each file keeps its newest version (a tombstone too).
    expect(history.prune('2026-03-01T00:00:00.000Z')).toBe(1);
    expect(history.versionsOf('aaaaaaaaaa').map((v) => v.version)).toEqual([3]);
    expect(history.versionsOf('bbbbbbbbbb').map((v) => v.version)).toEqual([1]);
    expect(history.versionsOf('cccccccccc').map((v) => v.version)).toEqual([2]);
    expect(history.prune('2026-03-01T00:00:00.000Z')).toBe(0);
  });

  it('answers its queries from indexes, not by scanning the table', () => {
    const plan = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan('SELECT * FROM file_versions WHERE stable_id = ? ORDER BY version DESC', 'a')).not.toMatch(/SCAN|TEMP B-TREE/);
    expect(plan('SELECT 1 FROM file_versions WHERE hash = ? AND file_type = ? AND committed_at >= ?', 'h', 'pdf', 'x')).toMatch(
      /USING (COVERING )?INDEX file_versions_blob/,
    );
    expect(plan('SELECT 1 FROM file_versions WHERE committed_at < ?', 'x')).toMatch(/INDEX file_versions_committed_at/);
    // The trash (SqliteFileRepository.listDeleted): tombstones newest first, straight from the partial index.
    const trash = plan(
      `SELECT * FROM files WHERE deleted = 1 AND updated_at >= ? AND (updated_at, stable_id) < (?, ?)
       ORDER BY updated_at DESC, stable_id DESC LIMIT ?`,
      'a', 'b', 'c', 10,
    );
    expect(trash).toMatch(/USING INDEX files_sort_modified/);
    expect(trash).not.toMatch(/TEMP B-TREE/);
  });
});
