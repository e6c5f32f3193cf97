import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isoUtc } from '../../src/domain/clock.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { buildApp } from '../../src/http/app.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { commitInfo, sharedRowOf } from '../support/history.ts';
import { createInstance, TEST_PASSWORD, type TestApp, type TestInstance } from '../support/instance.ts';

const DAY = 24 * 3600 * 1000;
const body = (content: string) => Readable.from([Buffer.from(content)]);

interface Harness {
  t: TestInstance;
  app: TestApp;
  auth: { 'x-session-id': string };
  remote: MemoryRemote | undefined;
}

/** An instance with its app and a session; with `remote`, restores fetch missing content from that memory remote. */
async function start(remote?: MemoryRemote): Promise<Harness> {
  const t = createInstance({}, 1, remote ? { remote } : {});
  await t.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(t.docsync);
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: TEST_PASSWORD } });
  return { t, app, auth: { 'x-session-id': login.json<{ sessionId: string }>().sessionId }, remote };
}

describe('history, trash and restore over HTTP', () => {
  let h: Harness;
  afterEach(async () => {
    await h.app.close();
    h.t.cleanup();
  });

  const call = (method: 'GET' | 'POST', url: string) => h.app.inject({ method, url, headers: h.auth });

  /** What a sync leaves: the row synced at `version`, and the commit recorded in history. */
  const commitRow = (file: FileRecord, version: number, instance = 'laptop'): FileRecord => {
    const synced: FileRecord = { ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: version };
    h.t.docsync.fileRepository.update(synced);
    h.t.docsync.historyRepository.record(commitInfo(version, isoUtc(h.t.clock.now()), instance), [sharedRowOf(synced, version)]);
    return synced;
  };

  /** v1 "first draft" paper.pdf, v2 "final" paper-final.pdf; the first draft's blob is gone locally. */
  async function twoVersions(): Promise<{ v1: FileRecord; v2: FileRecord }> {
    const { files } = h.t.docsync;
    const v1 = commitRow(await files.create(body('first draft'), { filename: 'paper.pdf', labels: ['draft'] }), 1, 'laptop');
    h.t.clock.advance(DAY);
    await files.replaceContent(v1.stable_id, body('final'));
    const v2 = commitRow(files.updateMetadata(v1.stable_id, { filename: 'paper-final.pdf', labels: ['final'] }), 2, 'desktop');
    h.t.clock.advance(DAY);
    return { v1, v2 };
  }

  it('lists the versions of a file, newest first, with the current one marked', async () => {
    h = await start();
    const { v1, v2 } = await twoVersions();
    const res = await call('GET', `/api/v1/files/${v1.stable_id}/history`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      versions: [
        {
          version: 2,
          committed_at: '2026-01-02T00:00:00.000Z',
          instance_id: 'desktop',
          filename: 'paper-final.pdf',
          hash: v2.hash,
          size: 5,
          file_type: 'pdf',
          collections: [],
          labels: ['final'],
          doc_id: null,
          deleted: false,
          current: true,
        },
        {
          version: 1,
          committed_at: '2026-01-01T00:00:00.000Z',
          instance_id: 'laptop',
          filename: 'paper.pdf',
          hash: v1.hash,
          size: 11,
          file_type: 'pdf',
          collections: [],
          labels: ['draft'],
          doc_id: null,
          deleted: false,
          current: false,
        },
      ],
    });
    expect((await call('GET', '/api/v1/files/zzzzzzzzzzzz/history')).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/files/not..an..id/history')).statusCode).toBe(400);
  });

  it('restores a version, fetching its content from the remote, and serves that content afterwards', async () => {
    h = await start(new MemoryRemote());
    const { v1 } = await twoVersions();
    await h.remote!.mkdir(remotePaths.blobDir(v1.hash));
    await h.remote!.put(remotePaths.blob(v1.hash, 'pdf'), Buffer.from('first draft'));

    const res = await call('POST', `/api/v1/files/${v1.stable_id}/history/1/restore`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      stable_id: v1.stable_id,
      hash: v1.hash,
      filename: 'paper.pdf',
      labels: ['draft'],
      sync_status: 'modified',
      remote_version: 2,
      deleted: false,
    });
    const content = await call('GET', `/api/v1/files/${v1.stable_id}/content`);
    expect(content.body).toBe('first draft');
    const status = await call('GET', '/api/v1/sync/status');
    expect(status.json()).toMatchObject({ unsynced_count: 1 });
  });

  it('answers 409 content_unavailable without a remote, 404 for an unknown version, 409 for a conflict', async () => {
    h = await start();
    const { v1, v2 } = await twoVersions();
    const unavailable = await call('POST', `/api/v1/files/${v1.stable_id}/history/1/restore`);
    expect(unavailable.statusCode).toBe(409);
    expect(unavailable.json()).toEqual({
      error: 'content_unavailable',
      message: 'the content of this version is no longer on this instance and no remote is configured',
      statusCode: 409,
    });
    expect((await call('POST', `/api/v1/files/${v1.stable_id}/history/9/restore`)).statusCode).toBe(404);
    expect((await call('POST', `/api/v1/files/${v1.stable_id}/history/0/restore`)).statusCode).toBe(400);
    expect((await call('POST', `/api/v1/files/${v1.stable_id}/history/abc/restore`)).statusCode).toBe(400);

    h.t.docsync.fileRepository.update({ ...v2, sync_status: 'conflict' });
    const conflict = await call('POST', `/api/v1/files/${v1.stable_id}/history/2/restore`);
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ error: 'file_in_conflict' });
  });

  it('answers 409 content_unavailable when the remote no longer has the content either (its GC collected it)', async () => {
    h = await start(new MemoryRemote());
    const { files } = h.t.docsync;
    const { v1, v2 } = await twoVersions();
    // v1's blob is gone here (replaced) and was never (or no longer) on the remote.
    const version = await call('POST', `/api/v1/files/${v1.stable_id}/history/1/restore`);
    expect(version.statusCode, version.body).toBe(409);
    expect(version.json()).toMatchObject({
      error: 'content_unavailable',
      message: expect.stringMatching(/^the content of this version \(paper\.pdf, sha256 [0-9a-f]{64}\) is no longer on this instance nor on the remote/),
    });
    expect(files.get(v1.stable_id)).toMatchObject({ hash: v2.hash, sync_status: 'synced', deleted: false });

    // The trash: a deleted file whose content this instance dropped and the remote collected.
    const lost = commitRow(await files.create(body('lost bytes'), { filename: 'lost.txt' }), 3);
    files.delete(lost.stable_id);
    commitRow(files.get(lost.stable_id, true), 4);
    fs.rmSync(path.join(h.t.dataDir, 'blobs', lost.hash.slice(0, 2), `${lost.hash}.txt`));
    const trashed = await call('POST', `/api/v1/trash/${lost.stable_id}/restore`);
    expect(trashed.statusCode, trashed.body).toBe(409);
    expect(trashed.json()).toMatchObject({ error: 'content_unavailable', message: expect.stringMatching(/lost\.txt.*cannot be restored$/) });
    expect(files.get(lost.stable_id, true)).toMatchObject({ deleted: true, sync_status: 'synced' });
  });

  it('lists the trash a page at a time and restores a deleted file from it', async () => {
    h = await start();
    const { files } = h.t.docsync;
    const made: FileRecord[] = [];
    for (const name of ['one.txt', 'two.txt', 'three.txt']) {
      made.push(await files.create(body(name), { filename: name }));
      h.t.clock.advance(1000);
    }
    for (const file of made) {
      files.delete(file.stable_id);
      h.t.clock.advance(1000);
    }
    const first = await call('GET', '/api/v1/trash?limit=2');
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json<{ files: FileRecord[]; next_cursor: string | null }>();
    expect(page1.files.map((f) => f.filename)).toEqual(['three.txt', 'two.txt']);
    expect(page1.files.every((f) => f.deleted)).toBe(true);
    const second = await call('GET', `/api/v1/trash?limit=2&cursor=${page1.next_cursor}`);
    expect(second.json()).toMatchObject({ files: [{ filename: 'one.txt' }], next_cursor: null });
    expect((await call('GET', '/api/v1/trash?cursor=%%%')).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/trash?limit=0')).statusCode).toBe(400);

    const restored = await call('POST', `/api/v1/trash/${made[1]!.stable_id}/restore`);
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({ filename: 'two.txt', deleted: false, sync_status: 'modified' });
    expect((await call('GET', `/api/v1/files/${made[1]!.stable_id}/content`)).body).toBe('two.txt');
    const after = await call('GET', '/api/v1/trash');
    expect(after.json<{ files: FileRecord[] }>().files.map((f) => f.filename)).toEqual(['three.txt', 'one.txt']);

    const live = await call('POST', `/api/v1/trash/${made[1]!.stable_id}/restore`);
    expect(live.statusCode).toBe(409);
    expect(live.json()).toMatchObject({ error: 'not_deleted' });
    expect((await call('POST', '/api/v1/trash/zzzzzzzzzzzz/restore')).statusCode).toBe(404);
  });

  it('needs a session, and documents the routes in the OpenAPI document', async () => {
    h = await start();
    for (const [method, url] of [
      ['GET', '/api/v1/files/zzzzzzzzzzzz/history'],
      ['POST', '/api/v1/files/zzzzzzzzzzzz/history/1/restore'],
      ['GET', '/api/v1/trash'],
      ['POST', '/api/v1/trash/zzzzzzzzzzzz/restore'],
    ] as const) {
      expect((await h.app.inject({ method, url })).statusCode, `${method} ${url}`).toBe(401);
    }
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/files/{id}/history',
        '/api/v1/files/{id}/history/{version}/restore',
        '/api/v1/trash',
        '/api/v1/trash/{id}/restore',
      ]),
    );
  });
});
