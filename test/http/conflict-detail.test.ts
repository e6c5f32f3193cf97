/**
 * Conflicts a person can judge (issue 13): `GET /sync/conflicts/:id` gives both sides in full with
 * the fields that differ and who made each side, `…/remote-content` the remote side's bytes, and the
 * `merge` resolution takes each field from a chosen side (tags: both) as a local change the next
 * sync shares. Two instances on one remote; conflict copies get unique names; the background status
 * check announces a new remote version once, at one request.
 */
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, API_PREFIX } from '../../src/http/app.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { ConflictRepository } from '../../src/store/conflict-repository.ts';
import type { SseSink } from '../../src/sse/sse-hub.ts';
import { createInstance, TEST_PASSWORD, type TestApp, type TestInstance } from '../support/instance.ts';

const body = (text: string) => Readable.from([Buffer.from(text)]);

interface Peer extends TestInstance {
  app: TestApp;
  call(method: 'GET' | 'POST', path: string, payload?: object): Promise<LightMyRequestResponse>;
}

async function peer(remote: MemoryRemote, seed: number): Promise<Peer> {
  const instance = createInstance({}, seed, { remote });
  await instance.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(instance.docsync, { statusCheckMs: 0 });
  const login = await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
  const headers = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
  return {
    ...instance,
    app,
    call: (method, path, payload) => app.inject({ method, url: `${API_PREFIX}${path}`, headers, ...(payload && { payload }) }),
  };
}

describe('conflict detail, remote content and merge', () => {
  const peers: Peer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) {
      await p.app.close();
      p.cleanup();
    }
  });

  /** Both instances changed notes.txt since they last agreed: `b` holds the conflict. */
  async function conflictOnB() {
    const remote = new MemoryRemote();
    const a = await peer(remote, 1);
    const b = await peer(remote, 2);
    peers.push(a, b);
    const file = await a.docsync.files.create(body('line 1\nline 2\nline 3\n'), { filename: 'notes.txt', labels: ['draft'], collections: ['thesis'] });
    await a.docsync.sync.sync();
    await b.docsync.sync.sync();
    await a.docsync.files.replaceContent(file.stable_id, body('line 1\nline two, from a\nline 3\n'));
    a.docsync.files.updateMetadata(file.stable_id, { labels: ['draft', 'from-a'] });
    await a.docsync.sync.sync();
    b.docsync.files.updateMetadata(file.stable_id, { labels: ['draft', 'from-b'], collections: ['thesis', 'review'] });
    expect((await b.docsync.sync.sync()).conflicts).toBe(1);
    return { a, b, id: file.stable_id, remote };
  }

  it('shows both sides, the fields that differ, and who changed each side; serves the remote content', async () => {
    const { a, b, id } = await conflictOnB();
    const res = await b.call('GET', `/sync/conflicts/${id}`);
    expect(res.statusCode).toBe(200);
    const detail = res.json();
    expect(detail.differences).toEqual(['content', 'collections', 'labels']);
    expect(detail.local).toMatchObject({ filename: 'notes.txt', labels: ['draft', 'from-b'], collections: ['thesis', 'review'], instance_id: b.docsync.instanceId, deleted: false });
    expect(detail.remote).toMatchObject({ filename: 'notes.txt', labels: ['draft', 'from-a'], collections: ['thesis'], instance_id: a.docsync.instanceId, version: 2 });
    expect(detail.remote.hash).toBe(a.docsync.files.get(id).hash);
    expect(detail.remote_problem).toBeNull();

    const content = await b.call('GET', `/sync/conflicts/${id}/remote-content`);
    expect(content.statusCode).toBe(200);
    expect(content.body).toBe('line 1\nline two, from a\nline 3\n');
    expect(content.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(content.headers['x-content-type-options']).toBe('nosniff');
    expect(content.headers['content-security-policy']).toMatch(/^sandbox/);
    // The local side is still the file's own content.
    expect((await b.call('GET', `/files/${id}/content`)).body).toBe('line 1\nline 2\nline 3\n');

    expect((await b.call('GET', '/sync/conflicts/zzzzzzzzzzzz')).statusCode).toBe(404);
    expect((await a.call('GET', `/sync/conflicts/${id}`)).statusCode).toBe(404);
    expect((await b.call('GET', '/sync/conflicts/..%2Fetc')).statusCode).toBe(400);
  });

  it('merge: labels and collections from both sides, content from the chosen one; the next syncs share it', async () => {
    const { a, b, id } = await conflictOnB();
    const remoteHash = a.docsync.files.get(id).hash;
    const bad = await b.call('POST', '/sync/resolve-conflict', { file_id: id, resolution: 'merge', fields: { labels: 'neither' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/fields\/labels/);
    const res = await b.call('POST', '/sync/resolve-conflict', { file_id: id, resolution: 'merge', fields: { content: 'remote' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stable_id: id, resolution: 'merge', copy_id: null, message: 'Merged; the next sync shares the result' });
    expect(b.docsync.files.get(id)).toMatchObject({
      labels: ['draft', 'from-b', 'from-a'],
      collections: ['thesis', 'review'],
      hash: remoteHash,
      sync_status: 'modified',
      remote_version: 2,
    });
    expect((await b.call('GET', '/sync/conflicts')).json().total).toBe(0);
    expect((await b.call('GET', `/files/${id}/content`)).body).toBe('line 1\nline two, from a\nline 3\n');

    const pushed = await b.docsync.sync.sync();
    expect(pushed).toMatchObject({ conflicts: 0, metadata_synced: 1, uploaded: 0 });
    await a.docsync.sync.sync();
    expect(a.docsync.files.get(id)).toMatchObject({ labels: ['draft', 'from-b', 'from-a'], collections: ['thesis', 'review'], hash: remoteHash, sync_status: 'synced' });
  });

  it('merge keeps this side by default for other fields, and refuses when one side is deleted', async () => {
    const { a, b, id } = await conflictOnB();
    const localHash = b.docsync.files.get(id).hash;
    expect((await b.call('POST', '/sync/resolve-conflict', { file_id: id, resolution: 'merge' })).statusCode).toBe(200);
    expect(b.docsync.files.get(id)).toMatchObject({ labels: ['draft', 'from-b', 'from-a'], hash: localHash, sync_status: 'modified' });
    expect((await b.docsync.sync.sync()).uploaded).toBe(1);
    await a.docsync.sync.sync();
    expect(await a.call('GET', `/files/${id}/content`).then((r) => r.body)).toBe('line 1\nline 2\nline 3\n');

    a.docsync.files.delete(id);
    await a.docsync.sync.sync();
    b.docsync.files.updateMetadata(id, { labels: ['late'] });
    expect((await b.docsync.sync.sync()).conflicts).toBe(1);
    const refused = await b.call('POST', '/sync/resolve-conflict', { file_id: id, resolution: 'merge' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toBe('merge_needs_both_sides');
    expect((await b.call('GET', `/sync/conflicts/${id}/remote-content`)).statusCode).toBe(404);
    expect((await b.call('GET', `/sync/conflicts/${id}`)).json().remote.deleted).toBe(true);
  });

  it('two "keep both" copies made on the same day get different names', async () => {
    const remote = new MemoryRemote();
    const b = await peer(remote, 3);
    peers.push(b);
    const file = await b.docsync.files.create(body('same bytes'), { filename: 'report.txt' });
    const conflicts = new ConflictRepository(b.docsync.db);
    const names: string[] = [];
    for (const label of ['one', 'two', 'three']) {
      const current = b.docsync.files.get(file.stable_id);
      b.docsync.fileRepository.update({ ...current, sync_status: 'conflict' });
      conflicts.upsert(file.stable_id, 'modified_both', { ...current, labels: [label], version: names.length + 1 }, '2026-01-01T00:00:00.000Z');
      const res = await b.call('POST', '/sync/resolve-conflict', { file_id: file.stable_id, resolution: 'keep_both' });
      expect(res.statusCode).toBe(200);
      names.push(b.docsync.files.get(res.json().copy_id).filename);
    }
    expect(new Set(names).size).toBe(3);
    expect(names[0]).toMatch(/^report \(conflict copy 2026-01-01 [^)]+\)\.txt$/);
    expect(names[1]).toMatch(/^report \(conflict copy 2026-01-01 [^)]+ 2\)\.txt$/);
    expect(names[2]).toMatch(/^report \(conflict copy 2026-01-01 [^)]+ 3\)\.txt$/);
  });

  it('the background status check announces a new remote version once, reading only version.txt', async () => {
    const remote = new MemoryRemote();
    const a = await peer(remote, 4);
    const b = await peer(remote, 5);
    peers.push(a, b);
    await a.docsync.files.create(body('x'), { filename: 'x.txt' });
    await a.docsync.sync.sync();
    await b.docsync.sync.sync();
    const frames: string[] = [];
    const sink: SseSink = { write: (chunk) => frames.push(chunk) > 0, end: () => undefined, once: () => undefined };
    const statuses = () => frames.filter((f) => f.includes('event: syncStatus')).map((f) => JSON.parse(f.split('data: ')[1]!));

    await b.app.remoteWatch.check(); // nobody listens: no request at all
    remote.resetCounts();
    await b.app.remoteWatch.check();
    expect(remote.requestCount).toBe(0);

    b.app.sse.connect(sink, 'someone');
    await b.app.remoteWatch.check();
    expect(statuses()).toEqual([expect.objectContaining({ needs_sync: false, remote_version: 1 })]);
    await a.docsync.files.create(body('y'), { filename: 'y.txt' });
    await a.docsync.sync.sync();
    remote.resetCounts();
    await b.app.remoteWatch.check();
    expect(remote.requestCount).toBe(1);
    await b.app.remoteWatch.check(); // unchanged: not announced again
    expect(statuses()).toHaveLength(2);
    expect(statuses()[1]).toMatchObject({ needs_sync: true, remote_version: 2, local_version: 1, unsynced_count: 0 });
  });
});
