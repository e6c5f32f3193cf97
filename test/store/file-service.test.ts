import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../../src/errors.ts';
import { createInstance, type TestInstance } from '../support/instance.ts';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const body = (text: string) => Readable.from([Buffer.from(text)]);

describe('FileService: the sync_status transitions the sync relies on', () => {
  let t: TestInstance;
  beforeEach(() => {
    t = createInstance({ DOCSYNC_MAX_UPLOAD_MB: '1' });
  });
  afterEach(() => t.cleanup());

  const create = (name: string, text: string, extra = {}) =>
    t.docsync.files.create(body(text), { filename: name, ...extra });
  /** Puts a row in the state a successful sync leaves behind. */
  const markSynced = (file: FileRecord, version = 3): FileRecord => {
    const synced = { ...file, sync_status: 'synced' as const, sync_hash: file.hash, remote_version: version };
    t.docsync.fileRepository.update(synced);
    return synced;
  };
  const blobPath = (file: FileRecord) =>
    path.join(t.dataDir, 'blobs', file.hash.slice(0, 2), `${file.hash}.${file.file_type}`);

  it('a new file is modified, never synced, with its content in the blob store', async () => {
    const file = await create('paper.pdf', '%PDF-1.7 body', { collections: ['thesis', ' thesis ', ''], labels: ['draft'] });
    expect(file).toMatchObject({
      filename: 'paper.pdf',
      file_type: 'pdf',
      mime_type: 'application/pdf',
      hash: sha256('%PDF-1.7 body'),
      size: 13,
      sync_status: 'modified',
      sync_hash: null,
      remote_version: null,
      deleted: false,
      collections: ['thesis'],
      labels: ['draft'],
    });
    expect(file.stable_id).toMatch(/^[23456789a-hjkmnp-z]{12}$/);
    expect(file.created_at).toBe('2026-01-01T00:00:00.000Z');
    expect(fs.readFileSync(blobPath(file), 'utf8')).toBe('%PDF-1.7 body');
    expect(t.docsync.files.get(file.stable_id)).toEqual(file);
  });

  it('replacing content keeps the stable_id, changes hash, and leaves sync_hash at the synced content', async () => {
    const synced = markSynced(await create('notes.txt', 'version one'));
    t.clock.advance(60_000);
    const after = await t.docsync.files.replaceContent(synced.stable_id, body('version two, longer'));
    expect(after.stable_id).toBe(synced.stable_id);
    expect(after.hash).toBe(sha256('version two, longer'));
    expect(after.size).toBe(19);
    expect(after.sync_status).toBe('modified');
    expect(after.sync_hash).toBe(synced.hash);
    expect(after.remote_version).toBe(3);
    expect(after.local_modified_at).toBe('2026-01-01T00:01:00.000Z');
    expect(after.created_at).toBe(synced.created_at);
    // The old content is referenced by nothing any more.
    expect(fs.existsSync(blobPath(synced))).toBe(false);
    expect(fs.readFileSync(blobPath(after), 'utf8')).toBe('version two, longer');
  });

  it('replacing content keeps the old blob while a sync uploaded it for a commit not known to have landed', async () => {
    // A sync pushing "version one" froze at its switch (the upload is recorded, no commit names it
    // yet); its switch may land late, after another holder's GC took the remote copy, and the look
    // after it can put the blob back only from here (src/sync/late-switch.ts).
    const first = await create('notes.txt', 'version one');
    t.docsync.syncState.recordUploadedBlob(`${first.hash}.${first.file_type}`, 'remote');
    await t.docsync.files.replaceContent(first.stable_id, body('version two'));
    expect(fs.readFileSync(blobPath(first), 'utf8')).toBe('version one');
    // Once a commit names the uploads, nothing holds it any more: the next edit releases as always.
    t.docsync.syncState.clearUploadedBlobs();
    const second = await t.docsync.files.replaceContent(first.stable_id, body('version three'));
    await t.docsync.files.replaceContent(first.stable_id, body('version four'));
    expect(fs.existsSync(blobPath(second))).toBe(false);
  });

  it('replacing content with identical bytes changes nothing', async () => {
    const synced = markSynced(await create('same.txt', 'unchanged'));
    t.clock.advance(1000);
    const after = await t.docsync.files.replaceContent(synced.stable_id, body('unchanged'));
    expect(after).toEqual(synced);
    expect(t.docsync.files.get(synced.stable_id).sync_status).toBe('synced');
  });

  it('a metadata-only change is modified with hash still equal to sync_hash', async () => {
    const synced = markSynced(await create('a.xml', '<a/>'));
    const after = t.docsync.files.updateMetadata(synced.stable_id, {
      collections: ['corpus'],
      labels: ['reviewed'],
      filename: 'renamed.xml',
      metadata: { author: 'Ada' },
      doc_id: 'doc-1',
    });
    expect(after.sync_status).toBe('modified');
    expect(after.hash).toBe(synced.hash);
    expect(after.hash).toBe(after.sync_hash);
    expect(after).toMatchObject({ filename: 'renamed.xml', collections: ['corpus'], labels: ['reviewed'], doc_id: 'doc-1' });
    expect(after.metadata).toEqual({ author: 'Ada' });
    expect(after.file_type).toBe('xml');
  });

  it('a rename re-derives the MIME type from the new name; the file type (the blob) stays', async () => {
    const file = await create('page.xml', '<a/>');
    expect(file.mime_type).toBe('application/xml');
    const after = t.docsync.files.updateMetadata(file.stable_id, { filename: 'page.txt' });
    expect(after).toMatchObject({ filename: 'page.txt', mime_type: 'text/plain', file_type: 'xml' });
  });

  it('a metadata patch that changes nothing leaves a synced file synced', async () => {
    const synced = markSynced(await create('b.txt', 'b', { labels: ['x'] }));
    const after = t.docsync.files.updateMetadata(synced.stable_id, { labels: ['x'] });
    expect(after.sync_status).toBe('synced');
  });

  it('delete leaves a pending_delete tombstone, hidden from normal reads', async () => {
    const synced = markSynced(await create('gone.txt', 'bye'));
    const tomb = t.docsync.files.delete(synced.stable_id);
    expect(tomb).toMatchObject({ deleted: true, sync_status: 'pending_delete', hash: synced.hash, remote_version: 3 });
    expect(() => t.docsync.files.get(synced.stable_id)).toThrow(NotFoundError);
    expect(t.docsync.files.get(synced.stable_id, true).deleted).toBe(true);
    // Until the deletion is synced, the content stays: the tombstone still references it.
    expect(fs.existsSync(blobPath(synced))).toBe(true);
    expect(() => t.docsync.files.delete(synced.stable_id)).toThrow(NotFoundError);
    expect(() => t.docsync.files.updateMetadata(synced.stable_id, { labels: ['x'] })).toThrow(NotFoundError);
    await expect(t.docsync.files.replaceContent(synced.stable_id, body('back'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a file in conflict stays in conflict through local edits and deletion', async () => {
    const file = await create('c.txt', 'c');
    t.docsync.fileRepository.update({ ...file, sync_status: 'conflict' });
    expect(t.docsync.files.updateMetadata(file.stable_id, { labels: ['l'] }).sync_status).toBe('conflict');
    expect((await t.docsync.files.replaceContent(file.stable_id, body('c2'))).sync_status).toBe('conflict');
    expect(t.docsync.files.delete(file.stable_id).sync_status).toBe('conflict');
  });

  it('two files with identical content are two rows sharing one blob', async () => {
    const a = await create('one.txt', 'same bytes');
    const b = await create('two.txt', 'same bytes');
    expect(a.stable_id).not.toBe(b.stable_id);
    expect(a.hash).toBe(b.hash);
    const shard = path.dirname(blobPath(a));
    expect(fs.readdirSync(shard)).toEqual([`${a.hash}.txt`]);
    // Editing one leaves the other's content in place.
    await t.docsync.files.replaceContent(a.stable_id, body('different now'));
    expect(fs.readFileSync(blobPath(b), 'utf8')).toBe('same bytes');
    expect(t.docsync.files.get(b.stable_id).hash).toBe(sha256('same bytes'));
  });

  it('keeps the unsynced count exact through every transition', async () => {
    const count = () => t.docsync.files.unsyncedCount();
    const scan = () =>
      (t.docsync.db.prepare("SELECT COUNT(*) AS n FROM files WHERE sync_status != 'synced'").get() as { n: number }).n;
    const a = await create('a.txt', 'a');
    const b = await create('b.txt', 'b');
    expect(count()).toBe(2);
    markSynced(a);
    markSynced(b);
    expect(count()).toBe(0);
    t.docsync.files.updateMetadata(a.stable_id, { labels: ['x'] });
    expect(count()).toBe(1);
    t.docsync.files.delete(b.stable_id);
    expect(count()).toBe(2);
    t.docsync.files.delete(a.stable_id);
    expect(count()).toBe(2);
    expect(count()).toBe(scan());
    expect(t.docsync.fileRepository.liveCount()).toBe(0);
  });

  it('refuses bad metadata with a message naming the field', async () => {
    await expect(create('', 'x')).rejects.toThrow(/filename must not be empty/);
    await expect(create('a\u0000b.txt', 'x')).rejects.toThrow(/control characters/);
    await expect(create('x'.repeat(256), 'x')).rejects.toThrow(/at most 255/);
    const file = await create('ok.txt', 'x');
    expect(() => t.docsync.files.updateMetadata(file.stable_id, { labels: ['a\nb'] })).toThrow(BadRequestError);
    expect(() => t.docsync.files.updateMetadata(file.stable_id, { collections: Array(101).fill('c') })).toThrow(
      /collections must have at most 100/,
    );
    expect(() => t.docsync.files.updateMetadata(file.stable_id, { metadata: { big: 'x'.repeat(70_000) } })).toThrow(
      /metadata must be at most/,
    );
    expect(() => t.docsync.files.updateMetadata(file.stable_id, { doc_id: '' })).toThrow(/doc_id/);
    expect(t.docsync.files.get(file.stable_id).labels).toEqual([]);
  });

  it('stores a path-like filename as a name: the blob stays inside the data dir', async () => {
    const file = await create('../../etc/passwd', 'root:x:0:0');
    expect(file.filename).toBe('../../etc/passwd');
    expect(file.file_type).toBe('bin');
    expect(blobPath(file).startsWith(path.join(t.dataDir, 'blobs'))).toBe(true);
    expect(fs.readFileSync(blobPath(file), 'utf8')).toBe('root:x:0:0');
  });

  it('refuses an upload over the configured limit and keeps nothing of it', async () => {
    const big = Readable.from([Buffer.alloc(1024 * 1024 + 1)]);
    await expect(t.docsync.files.create(big, { filename: 'big.bin' })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(t.docsync.files.list({ limit: 10 }).total).toBe(0);
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp'))).toEqual([]);
  });

  it('collects the blobs of tombstones once their deletion is synced', async () => {
    const file = await create('old.txt', 'old content');
    const tomb = t.docsync.files.delete(file.stable_id);
    t.docsync.fileRepository.update({ ...tomb, sync_status: 'synced' });
    fs.utimesSync(blobPath(file), new Date(0), new Date(0));
    const report = await t.docsync.files.collectGarbage();
    expect(report.removed).toBe(1);
    expect(fs.existsSync(blobPath(file))).toBe(false);
  });

  it('keeps what the extra predicate names (history) and what is younger than the grace', async () => {
    const old = await create('old.txt', 'an old version');
    const young = await create('young.txt', 'a young one');
    for (const file of [old, young]) {
      const tomb = t.docsync.files.delete(file.stable_id);
      t.docsync.fileRepository.update({ ...tomb, sync_status: 'synced' });
    }
    // Ages are judged by the instance's clock.
    const now = t.docsync.clock.now();
    fs.utimesSync(blobPath(old), new Date(now - 3 * 3600 * 1000), new Date(now - 3 * 3600 * 1000));
    fs.utimesSync(blobPath(young), new Date(now - 60 * 1000), new Date(now - 60 * 1000));
    const inHistory = (hash: string) => hash === old.hash;
    expect(await t.docsync.files.collectGarbage({ alsoReferenced: inHistory, graceMs: 3600 * 1000 })).toMatchObject({ removed: 0, kept: 2 });
    expect(await t.docsync.files.collectGarbage({ graceMs: 3600 * 1000, dryRun: true })).toMatchObject({ removed: 1, bytesFreed: 14, kept: 1 });
    expect(fs.existsSync(blobPath(old))).toBe(true);
    expect(await t.docsync.files.collectGarbage({ graceMs: 3600 * 1000 })).toMatchObject({ removed: 1, kept: 1 });
    expect(fs.existsSync(blobPath(old))).toBe(false);
    expect(fs.existsSync(blobPath(young))).toBe(true);
  });
});

describe('SqliteFileRepository.list', () => {
  let t: TestInstance;
  beforeEach(async () => {
    t = createInstance();
    const put = (filename: string, extra = {}) => t.docsync.files.create(body(filename), { filename, ...extra });
    await put('Alpha report.pdf', { collections: ['reports'], labels: ['final'], docId: 'd1' });
    await put('alpha notes.txt', { collections: ['notes'], docId: 'd1' });
    await put('beta_100%.txt', { labels: ['final'] });
    const gone = await put('deleted alpha.txt');
    t.docsync.files.delete(gone.stable_id);
  });
  afterEach(() => t.cleanup());

  const names = (filter: Parameters<TestInstance['docsync']['files']['list']>[0]) =>
    t.docsync.files.list(filter).files.map((f) => f.filename);

  it('filters by collection, label, doc_id and filename text, newest first', () => {
    expect(names({ limit: 10 })).toEqual(['beta_100%.txt', 'alpha notes.txt', 'Alpha report.pdf']);
    expect(names({ limit: 10, collection: 'reports' })).toEqual(['Alpha report.pdf']);
    expect(names({ limit: 10, label: 'final' })).toEqual(['beta_100%.txt', 'Alpha report.pdf']);
    expect(names({ limit: 10, docId: 'd1' })).toEqual(['alpha notes.txt', 'Alpha report.pdf']);
    expect(names({ limit: 10, q: 'ALPHA' })).toEqual(['alpha notes.txt', 'Alpha report.pdf']);
    // LIKE wildcards in the search text are literal characters.
    expect(names({ limit: 10, q: '0%' })).toEqual(['beta_100%.txt']);
    expect(names({ limit: 10, q: '_' })).toEqual(['beta_100%.txt']);
    expect(names({ limit: 10, includeDeleted: true, q: 'alpha' })).toEqual([
      'deleted alpha.txt',
      'alpha notes.txt',
      'Alpha report.pdf',
    ]);
  });

  it('counts matches and pages with an opaque cursor', () => {
    const first = t.docsync.files.list({ limit: 2 });
    expect(first.total).toBe(3);
    expect(first.files).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = t.docsync.files.list({ limit: 2, cursor: first.nextCursor! });
    expect(second.files.map((f) => f.filename)).toEqual(['Alpha report.pdf']);
    expect(second.nextCursor).toBeNull();
    expect(t.docsync.files.list({ limit: 10, includeDeleted: true }).total).toBe(4);
    expect(t.docsync.files.list({ limit: 1, label: 'final' }).total).toBe(2);
    expect(() => t.docsync.files.list({ limit: 2, cursor: 'not-a-cursor' })).toThrow(BadRequestError);
  });
});
