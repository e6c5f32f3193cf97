import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { Sqlite } from '../../src/store/sqlite.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import type { StableId } from '../../src/domain/ids.ts';
import { openDocsync } from '../../src/docsync.ts';
import { LocalStateError } from '../../src/errors.ts';
import { buildApp } from '../../src/http/app.ts';
import { TEST_PASSWORD, tempDir } from '../support/instance.ts';

describe('local state is never silently reset', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: Config;
  beforeEach(() => {
    tmp = tempDir();
    config = loadConfig({ DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data'), DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent' }, {}, tmp.dir);
  });
  afterEach(() => tmp.remove());

  const database = () => path.join(config.dataDir, 'docsync.db');

  /** A data dir with one never-synced file: its blob, and the row that names it. */
  async function storeWithOneFile(): Promise<void> {
    const docsync = openDocsync(config);
    await docsync.files.create(Readable.from([Buffer.from('%PDF only here')]), { filename: 'only-here.pdf' });
    docsync.close();
  }

  it('starts on a new data dir (made if missing) and on an existing empty one', () => {
    openDocsync(config).close();
    expect(fs.existsSync(database())).toBe(true);
    const empty = path.join(tmp.dir, 'empty');
    fs.mkdirSync(empty);
    openDocsync({ ...config, dataDir: empty }, { create: false }).close();
  });

  it.each([
    ['missing', () => undefined, /but no database/],
    ['empty', (file: string) => fs.writeFileSync(file, ''), /but an empty database file/],
    ['garbage', (file: string) => fs.writeFileSync(file, 'junk\n'), /cannot be read \(file is not a database\)/],
    ['a database without docsync tables', (file: string) => new Sqlite(file).exec('CREATE TABLE t (x)').close(), /but a database without docsync tables/],
  ])('refuses to start when the database is %s beside blobs, naming the data dir and the recovery command', async (name, make, found) => {
    await storeWithOneFile();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${database()}${suffix}`, { force: true });
    make(database());
    const before = fs.existsSync(database()) ? fs.readFileSync(database()) : undefined;
    let error: unknown;
    try {
      openDocsync(config).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    expect(message).toMatch(found);
    expect(message).toContain(config.dataDir);
    expect(message).toContain("docsync recover --data-dir");
    if (name !== 'garbage') expect(message).toMatch(/holds 1 blob\(s\)/);
    // Nothing was created or replaced.
    expect(fs.existsSync(database()) ? fs.readFileSync(database()) : undefined).toEqual(before);
  });

  it('refuses a database with corrupt pages at start; without the check, requests get 503 and /health says unhealthy', async () => {
    let docsync = openDocsync(config);
    await docsync.auth.ensureAdmin(TEST_PASSWORD);
    docsync.fileRepository.insertMany(
      Array.from({ length: 2000 }, (_, i) => ({
        stable_id: `file${String(i).padStart(8, '0')}` as StableId,
        hash: 'ab'.repeat(32),
        filename: `file-${i}.pdf`,
        file_type: 'pdf',
        mime_type: 'application/pdf',
        size: 10,
        doc_id: null,
        collections: ['c'],
        labels: [],
        metadata: { note: 'x'.repeat(100) },
        deleted: false,
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
        local_modified_at: '2026-01-01T00:00:00.000Z',
        sync_status: 'synced' as const,
        sync_hash: 'ab'.repeat(32),
        remote_version: 1,
      })),
    );
    const { rootpage } = docsync.db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'files'").get() as { rootpage: number };
    const pageSize = docsync.db.pragma('page_size', { simple: true }) as number;
    docsync.close();
    // Overwrite the root page of the files table, in the middle of the closed file.
    const fd = fs.openSync(database(), 'r+');
    fs.writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (rootpage - 1) * pageSize);
    fs.closeSync(fd);

    expect(() => openDocsync(config)).toThrow(/cannot be read \(quick_check: .*docsync recover/s);

    docsync = openDocsync(config, { verifyDatabase: false });
    const app = await buildApp(docsync);
    try {
      expect((await app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: TEST_PASSWORD } });
      const auth = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
      const list = await app.inject({ method: 'GET', url: '/api/v1/files', headers: auth });
      expect(list.statusCode).toBe(503);
      expect(list.json()).toMatchObject({ error: 'storage_fault', message: expect.stringMatching(/database corrupt.*docsync recover/) });
      const health = await app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ status: 'unhealthy', message: expect.stringMatching(/corrupt/) });
    } finally {
      await app.close();
      docsync.close();
    }
  });
});
