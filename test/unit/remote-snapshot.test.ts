import path from 'node:path';
import type Database from 'better-sqlite3';
import { Sqlite } from '../../src/store/sqlite.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { RemoteSnapshot } from '../../src/remote/remote-snapshot.ts';
import { tempDir } from '../support/instance.ts';
import { insertRawRows, rawRow } from '../support/tamper.ts';

const HASH = 'e'.repeat(64);
const good: RemoteFileRow = {
  stable_id: 'gxxdgxxd2345',
  hash: HASH,
  filename: 'good.txt',
  file_type: 'txt',
  mime_type: 'text/plain',
  size: 4,
  doc_id: null,
  collections: [],
  labels: [],
  metadata: {},
  deleted: false,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  version: 1,
};

describe('a snapshot with invalid rows', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir();
    file = path.join(tmp.dir, 'snapshot.db');
    const snapshot = RemoteSnapshot.create(file, 'repo');
    snapshot.upsert(good);
    snapshot.close();
  });
  afterEach(() => tmp.remove());

  const tamper = (work: (db: Database.Database) => void) => {
    const db = new Sqlite(file);
    db.pragma('ignore_check_constraints = ON'); // a hostile writer is bound by none of our constraints
    work(db);
    db.close();
  };

  it('reads every good row and leaves out, and records, each bad one, whichever way it is read', () => {
    tamper((db) => {
      const template = rawRow(db, good.stable_id);
      insertRawRows(db, [
        { ...template, stable_id: 'badjsn234567', collections: 'not json', version: 2 },
        { ...template, stable_id: '../../etc/passwd', version: 2 },
        { ...template, stable_id: 'bgszzz234567', size: 2 ** 60, version: 2 },
        { ...template, stable_id: 'bxbbyy234567', deleted: 7, hash: 'd'.repeat(64), version: 2 },
      ]);
    });
    const snapshot = RemoteSnapshot.open(file);
    try {
      expect(snapshot.files().map((r) => r.stable_id)).toEqual([good.stable_id]);
      expect(snapshot.changedSince(1)).toEqual([]);
      expect(snapshot.get('badjsn234567')).toBeUndefined();
      expect(snapshot.get(good.stable_id)).toEqual(good);
      // Only a valid row proves a blob is on the remote.
      expect(snapshot.hasBlob(HASH, 'txt')).toBe(true);
      expect(snapshot.hasBlob('d'.repeat(64), 'txt')).toBe(false);
      expect([...snapshot.rejected.values()].map((r) => r.problem).sort()).toEqual([
        'collections is not JSON',
        'deleted must be 0 or 1',
        'size must be a non-negative integer',
        expect.stringMatching(/^stable_id must be/),
      ]);
    } finally {
      snapshot.close();
    }
  });

  it('a row that claims another MIME type gets the one its name gives', () => {
    tamper((db) => db.prepare("UPDATE files SET mime_type = 'text/html'").run());
    const snapshot = RemoteSnapshot.open(file);
    expect(snapshot.get(good.stable_id)?.mime_type).toBe('text/plain');
    snapshot.close();
  });

  it.each([
    ['a files table without its columns', 'ALTER TABLE files DROP COLUMN labels', /files table lacks labels/],
    ['recent_commits that is not a list', "UPDATE meta SET value = 'nope' WHERE key = 'recent_commits'", /recent_commits/],
    ['a version that is not a number', "UPDATE meta SET value = 'x' WHERE key = 'version'", /valid version/],
  ])('%s is refused as corrupt when opened', (_label, sql, message) => {
    tamper((db) => db.exec(sql));
    expect(() => RemoteSnapshot.open(file)).toThrow(RemoteCorruptError);
    expect(() => RemoteSnapshot.open(file)).toThrow(message);
  });
});
