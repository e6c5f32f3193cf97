import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isoUtc } from '../../src/domain/clock.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { dataPaths } from '../../src/docsync.ts';
import { AppError } from '../../src/errors.ts';
import { HistoryService, type BlobToFetch, type FetchBlob } from '../../src/services/history-service.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { commitInfo, sharedRowOf } from '../support/history.ts';
import { createInstance, type TestInstance } from '../support/instance.ts';

const DAY = 24 * 3600 * 1000;
const body = (content: string) => Readable.from([Buffer.from(content)]);

/** Expects `promise` to reject with an AppError of this status and code. */
async function expectAppError(promise: Promise<unknown>, status: number, code: string): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ status, code });
  return error as AppError;
}

describe('HistoryService: history, trash and restore', () => {
  let t: TestInstance;
  let blobs: BlobStore;
  /** What the "remote" holds, by hash: the fetchBlob below downloads from here, verified. */
  let remoteContent: Map<string, string>;
  let fetched: BlobToFetch[];
  /** The remote answers, but not usefully (a 5xx, say). */
  let remoteFailing = false;
  const fetchBlob: FetchBlob = async (blob) => {
    fetched.push(blob);
    if (remoteFailing) throw new AppError('remote_unavailable', 'the remote answered 503', 502);
    const content = remoteContent.get(blob.hash);
    if (content === undefined) return 'absent';
    await blobs.commit(await blobs.stageVerified(body(content), blob.hash, blob.size), blob.file_type);
    return 'fetched';
  };
  /** `null`: no remote configured. */
  const service = (withFetch: FetchBlob | null = fetchBlob) =>
    new HistoryService({
      files: t.docsync.fileRepository,
      history: t.docsync.historyRepository,
      blobs,
      clock: t.clock,
      historyDays: 30,
      fetchBlob: withFetch ?? undefined,
    });

  beforeEach(() => {
    t = createInstance();
    remoteFailing = false;
    const paths = dataPaths(t.dataDir);
    blobs = new BlobStore(paths.blobs, paths.tmp, seededIdSource(9));
    remoteContent = new Map();
    fetched = [];
  });
  afterEach(() => t.cleanup());

  /** What a sync does to a row it pushed at `version`, and what the engine records of that commit. */
  const commitRow = (file: FileRecord, version: number): FileRecord => {
    const synced: FileRecord = { ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: version };
    t.docsync.fileRepository.update(synced);
    t.docsync.historyRepository.record(commitInfo(version, isoUtc(t.clock.now()), 'laptop'), [sharedRowOf(synced, version)]);
    return synced;
  };

  /** A file committed twice: v1 "first draft" (paper.pdf), v2 "final text" renamed and relabelled. */
  async function fileWithTwoVersions(): Promise<{ v1: FileRecord; v2: FileRecord }> {
    const created = await t.docsync.files.create(body('first draft'), {
      filename: 'paper.pdf',
      collections: ['thesis'],
      labels: ['draft'],
      metadata: { pages: 1 },
    });
    const v1 = commitRow(created, 1);
    remoteContent.set(v1.hash, 'first draft');
    t.clock.advance(DAY);
    await t.docsync.files.replaceContent(v1.stable_id, body('final text'));
    const renamed = t.docsync.files.updateMetadata(v1.stable_id, { filename: 'paper-final.txt', labels: ['final'], metadata: { pages: 2 } });
    const v2 = commitRow(renamed, 2);
    remoteContent.set(v2.hash, 'final text');
    t.clock.advance(DAY);
    return { v1, v2 };
  }

  it('restores an old version: its content and metadata, as a local change on top of the synced base', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    // Replacing the content released the first draft's blob: only the remote has it now.
    expect(blobs.has(v1.hash, v1.file_type)).toBe(false);

    const restored = await service().restoreVersion(v1.stable_id, 1);

    expect(fetched).toEqual([{ hash: v1.hash, file_type: 'pdf', size: v1.size, filename: 'paper.pdf' }]);
    const now = isoUtc(t.clock.now());
    expect(restored).toEqual({
      ...v2,
      hash: v1.hash,
      filename: 'paper.pdf',
      file_type: 'pdf',
      mime_type: 'application/pdf',
      size: v1.size,
      collections: ['thesis'],
      labels: ['draft'],
      metadata: { pages: 1 },
      deleted: false,
      updated_at: now,
      local_modified_at: now,
      sync_status: 'modified',
      // The merge base stays: the next sync pushes this as an edit of version 2.
      remote_version: 2,
      sync_hash: v2.hash,
    });
    expect(t.docsync.files.get(v1.stable_id)).toEqual(restored);
    expect(await text(t.docsync.files.openContent(restored))).toBe('first draft');
    expect(t.docsync.files.unsyncedCount()).toBe(1);
    // The content it replaced is kept while a version inside the window names it: restoring back needs no download.
    expect(blobs.has(v2.hash, v2.file_type)).toBe(true);
  });

  it('does not fetch content that is already here', async () => {
    const { v1 } = await fileWithTwoVersions();
    await blobs.commit(await blobs.stage(body('first draft')), 'pdf');
    const restored = await service().restoreVersion(v1.stable_id, 1);
    expect(fetched).toEqual([]);
    expect(restored).toMatchObject({ hash: v1.hash, filename: 'paper.pdf', sync_status: 'modified' });
  });

  it('restores metadata alone when only the metadata changed between versions', async () => {
    const created = await t.docsync.files.create(body('same bytes'), { filename: 'notes.txt', labels: ['a'] });
    const v1 = commitRow(created, 1);
    t.clock.advance(DAY);
    commitRow(t.docsync.files.updateMetadata(v1.stable_id, { labels: ['b'], doc_id: 'doc-9' }), 2);
    const restored = await service(null).restoreVersion(v1.stable_id, 1);
    expect(restored).toMatchObject({ hash: v1.hash, labels: ['a'], doc_id: null, sync_status: 'modified', remote_version: 2 });
  });

  it('refuses with 409 content_unavailable when the content is gone and no remote is configured; the row is untouched', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    const error = await expectAppError(service(null).restoreVersion(v1.stable_id, 1), 409, 'content_unavailable');
    expect(error.message).toBe('the content of this version is no longer on this instance and no remote is configured');
    expect(t.docsync.files.get(v1.stable_id)).toEqual(v2);
  });

  it('passes on the error of a failed download and leaves the row as it was', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    remoteFailing = true;
    await expectAppError(service().restoreVersion(v1.stable_id, 1), 502, 'remote_unavailable');
    remoteFailing = false;
    expect(t.docsync.files.get(v1.stable_id)).toEqual(v2);
  });

  it('content the remote no longer has (collected by its GC): 409 content_unavailable, the row as it was', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    remoteContent.delete(v1.hash);
    const error = await expectAppError(service().restoreVersion(v1.stable_id, 1), 409, 'content_unavailable');
    expect(error.message).toMatch(/is no longer on this instance nor on the remote/);
    expect(t.docsync.files.get(v1.stable_id)).toEqual(v2);
  });

  it('refuses a file in conflict (409), an unknown file or version (404), and a version that is a deletion (409)', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    const history = service();
    await expectAppError(history.restoreVersion('zzzzzzzzzzzz', 1), 404, 'not_found');
    await expectAppError(history.restoreVersion(v1.stable_id, 7), 404, 'not_found');
    expect(() => history.versions('zzzzzzzzzzzz')).toThrow(/No file/);

    t.docsync.files.delete(v1.stable_id);
    commitRow({ ...t.docsync.files.get(v1.stable_id, true) }, 3);
    await expectAppError(history.restoreVersion(v1.stable_id, 3), 409, 'version_is_deletion');

    t.docsync.fileRepository.update({ ...v2, sync_status: 'conflict' });
    await expectAppError(history.restoreVersion(v1.stable_id, 1), 409, 'file_in_conflict');
    await expectAppError(history.restoreDeleted(v1.stable_id), 409, 'file_in_conflict');
    expect(fetched).toEqual([]);
  });

  it('lists versions newest first and marks the one the local row was synced at', async () => {
    const { v1 } = await fileWithTwoVersions();
    const versions = service().versions(v1.stable_id);
    expect(versions.map((v) => [v.version, v.filename, v.current, v.instance_id])).toEqual([
      [2, 'paper-final.txt', true, 'laptop'],
      [1, 'paper.pdf', false, 'laptop'],
    ]);
  });

  it('restores a deleted file with its newest live version in history, content fetched', async () => {
    const { v1, v2 } = await fileWithTwoVersions();
    t.docsync.files.delete(v1.stable_id);
    const tombstone = commitRow(t.docsync.files.get(v1.stable_id, true), 3);
    // What a sync does after the deletion is shared: the blob goes.
    blobs.removeIfUnreferenced(v2.hash, v2.file_type, () => false);
    t.clock.advance(DAY);

    const restored = await service().restoreDeleted(v1.stable_id);

    expect(fetched.map((f) => f.hash)).toEqual([v2.hash]);
    expect(restored).toMatchObject({
      hash: v2.hash,
      filename: 'paper-final.txt',
      mime_type: 'text/plain',
      labels: ['final'],
      deleted: false,
      sync_status: 'modified',
      remote_version: tombstone.remote_version,
      updated_at: isoUtc(t.clock.now()),
    });
    expect(await text(t.docsync.files.openContent(restored))).toBe('final text');
    expect(t.docsync.files.get(v1.stable_id)).toEqual(restored);
  });

  it('restores a deletion never shared with its own tombstone fields, and refuses a live file (409)', async () => {
    const file = await t.docsync.files.create(body('local only'), { filename: 'memo.md', labels: ['x'] });
    const history = service(null);
    await expectAppError(history.restoreDeleted(file.stable_id), 409, 'not_deleted');
    t.docsync.files.delete(file.stable_id);
    const restored = await history.restoreDeleted(file.stable_id);
    expect(restored).toMatchObject({ hash: file.hash, filename: 'memo.md', labels: ['x'], deleted: false, sync_status: 'modified', remote_version: null });
    expect(t.docsync.files.list({ limit: 10 }).files.map((f) => f.stable_id)).toEqual([file.stable_id]);
    await expectAppError(history.restoreDeleted('zzzzzzzzzzzz'), 404, 'not_found');
  });

  it('lists the trash: deletions inside the window, newest first, a page at a time', async () => {
    const made: FileRecord[] = [];
    for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'live.txt']) {
      made.push(await t.docsync.files.create(body(name), { filename: name }));
    }
    // a: deleted 40 days ago (outside the 30-day window); b, c, d after it, c and d at the same instant.
    t.docsync.files.delete(made[0]!.stable_id);
    t.clock.advance(11 * DAY);
    t.docsync.files.delete(made[1]!.stable_id);
    t.clock.advance(DAY);
    t.docsync.files.delete(made[2]!.stable_id);
    t.docsync.files.delete(made[3]!.stable_id);
    t.clock.advance(29 * DAY);

    const history = service();
    const all = history.trash({ limit: 10 });
    const sameInstant = [made[2]!.stable_id, made[3]!.stable_id].sort().reverse();
    expect(all.files.map((f) => f.stable_id)).toEqual([...sameInstant, made[1]!.stable_id]);
    expect(all.nextCursor).toBeNull();

    const first = history.trash({ limit: 2 });
    expect(first.files.map((f) => f.stable_id)).toEqual(sameInstant);
    expect(first.nextCursor).not.toBeNull();
    const second = history.trash({ limit: 2, cursor: first.nextCursor! });
    expect(second.files.map((f) => f.stable_id)).toEqual([made[1]!.stable_id]);
    expect(second.nextCursor).toBeNull();
    expect(() => history.trash({ limit: 2, cursor: 'not a cursor' })).toThrow(/cursor is not valid/);
  });
});
