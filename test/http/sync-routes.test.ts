import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { API_PREFIX } from '../../src/http/app.ts';
import { ConflictRepository } from '../../src/store/conflict-repository.ts';
import { createHttpInstance, type HttpInstance } from '../support/instance.ts';

describe('sync routes', () => {
  let h: HttpInstance;
  afterEach(() => h.close());

  const call = (method: 'GET' | 'POST', path: string, payload?: object) =>
    h.app.inject({ method, url: `${API_PREFIX}${path}`, headers: h.auth, ...(payload && { payload }) });

  it('status says no remote is configured and counts local changes', async () => {
    h = await createHttpInstance();
    await h.docsync.files.create(Readable.from([Buffer.from('a')]), { filename: 'a.txt' });
    await h.docsync.files.create(Readable.from([Buffer.from('b')]), { filename: 'b.txt' });
    const res = await call('GET', '/sync/status');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      needs_sync: false,
      local_version: null,
      remote_version: null,
      unsynced_count: 2,
      last_sync_time: null,
      sync_in_progress: false,
      remote_configured: false,
      remote: 'none (standalone)',
      remote_error: null,
      remote_capabilities: null,
      lock_atomic: null,
    });
  });

  it('POST /sync answers 409 with a message saying why', async () => {
    h = await createHttpInstance();
    for (const payload of [undefined, {}, { force: true }]) {
      const res = await call('POST', '/sync', payload);
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toBe('no_remote');
      expect(res.json().message).toMatch(/No remote is configured.*WEBDAV_BASE_URL.*DOCSYNC_REMOTE/);
    }
    expect((await call('POST', '/sync', { force: 'yes' })).statusCode).toBe(400);
  });

  it('with an unreachable remote: status and sync say so, without leaking the password', async () => {
    h = await createHttpInstance({
      WEBDAV_BASE_URL: 'http://127.0.0.1:1/dav',
      WEBDAV_USERNAME: 'ada',
      WEBDAV_PASSWORD: 'hunter2-secret',
    });
    const status = await call('GET', '/sync/status');
    expect(status.json()).toMatchObject({ remote_configured: true, remote: 'http://127.0.0.1:1/dav/docsync (user ada)' });
    expect(status.json().remote_error).toMatch(/unreachable/);
    expect(status.body).not.toContain('hunter2');
    const sync = await call('POST', '/sync');
    expect(sync.statusCode).toBe(502);
    expect(sync.json().error).toBe('remote_unavailable');
    expect(sync.body).not.toContain('hunter2');
  });

  it('lists stored conflicts; resolving checks its input', async () => {
    h = await createHttpInstance();
    const file = await h.docsync.files.create(Readable.from([Buffer.from('a')]), { filename: 'a.txt' });
    expect((await call('GET', '/sync/conflicts')).json()).toEqual({ conflicts: [], total: 0 });
    h.docsync.fileRepository.update({ ...file, sync_status: 'conflict' });
    new ConflictRepository(h.docsync.db).upsert(file.stable_id, 'deleted_remote', {
      ...file, deleted: true, version: 4, updated_at: '2026-02-02T00:00:00.000Z',
    }, '2026-02-03T00:00:00.000Z');
    const listed = (await call('GET', '/sync/conflicts')).json();
    expect(listed.total).toBe(1);
    expect(listed.conflicts[0]).toEqual({
      file_id: file.stable_id,
      stable_id: file.stable_id,
      filename: 'a.txt',
      doc_id: null,
      conflict_type: 'deleted_remote',
      local_modified_at: file.local_modified_at,
      local_hash: file.hash,
      local_deleted: false,
      remote_modified_at: '2026-02-02T00:00:00.000Z',
      remote_hash: file.hash,
      remote_deleted: true,
      remote_filename: 'a.txt',
      remote_collections: [],
      remote_labels: [],
    });

    const resolve = (payload: object) => call('POST', '/sync/resolve-conflict', payload);
    const bad = await resolve({ file_id: file.stable_id, resolution: 'coin_flip' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe(
      'body/resolution must be equal to one of the allowed values: local_wins, remote_wins, keep_both, merge',
    );
    expect((await resolve({ file_id: 'zzzzzzzzzzzz', resolution: 'local_wins' })).statusCode).toBe(404);
    expect((await resolve({ resolution: 'local_wins' })).statusCode).toBe(400);
    const ok = await resolve({ file_id: file.stable_id, resolution: 'local_wins' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ stable_id: file.stable_id, resolution: 'local_wins', copy_id: null });
    expect(h.docsync.files.get(file.stable_id)).toMatchObject({ sync_status: 'modified', remote_version: 4 });
    const again = await resolve({ file_id: file.stable_id, resolution: 'local_wins' });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/is not in conflict/);
  });
});
