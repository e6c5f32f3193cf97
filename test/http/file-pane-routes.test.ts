import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { LIMITS } from '../../src/domain/file.ts';
import { createHttpInstance, tempDir, uploadBody, type HttpInstance } from '../support/instance.ts';


const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The routes the web page's file pane uses (web/src/file-pane.ts): rename and edit doc id and
 * metadata (`PATCH /files/:id`), a new version of the content (`PUT /files/:id/content`) that keeps
 * the stable_id, is pushed by the next sync and shows in the file's history. Bad input gets 400,
 * oversize 413, unknown ids 404 — each with a message, and nothing changed.
 */
describe('file pane routes', () => {
  let h: HttpInstance;
  let remote: { dir: string; remove: () => void };
  beforeAll(async () => {
    remote = tempDir('docsync-pane-remote-');
    h = await createHttpInstance({ DOCSYNC_MAX_UPLOAD_MB: '1', DOCSYNC_REMOTE: `file://${remote.dir}` });
  });
  afterAll(async () => {
    await h.close();
    remote.remove();
  });

  const create = async (filename: string, content: string): Promise<FileRecord> => {
    const body = uploadBody(filename, content, { metadata: '{"keep":true}' });
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/files', payload: body.payload, headers: { ...h.auth, ...body.headers } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<FileRecord>();
  };
  const patch = (id: string, payload: string | object) =>
    h.app.inject({ method: 'PATCH', url: `/api/v1/files/${id}`, headers: { ...h.auth, 'content-type': 'application/json' }, payload });
  const put = (id: string, payload: string | Buffer) =>
    h.app.inject({ method: 'PUT', url: `/api/v1/files/${id}/content`, headers: { ...h.auth, 'content-type': 'application/octet-stream' }, payload });
  const sync = async () => {
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/sync', headers: h.auth, payload: {} });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ uploaded: number; metadata_synced: number; new_version: number | null }>();
  };

  it('renames and sets doc id and metadata in one change, without touching the content', async () => {
    const file = await create('draft.xml', '<a/>');
    const res = await patch(file.stable_id, { filename: 'final.tei.xml', doc_id: 'doc-7', metadata: { year: 2024, authors: ['Ada'] } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      stable_id: file.stable_id,
      hash: file.hash,
      filename: 'final.tei.xml',
      mime_type: 'application/xml',
      doc_id: 'doc-7',
      metadata: { year: 2024, authors: ['Ada'] },
      sync_status: 'modified',
    });
  });

  it.each([
    ['malformed JSON', '{"metadata": {"year": 2024,}', /JSON/],
    ['metadata that is an array', { metadata: ['a'] }, /metadata must be object/],
    ['metadata that is a string', { metadata: '{"year":2024}' }, /metadata must be object/],
    ['metadata over the limit', { metadata: { text: 'x'.repeat(LIMITS.metadataBytes) } }, new RegExp(`metadata must be at most ${LIMITS.metadataBytes} bytes`)],
    ['metadata nested too deep', { metadata: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }, /nested at most/],
    ['a doc id over the limit', { doc_id: 'x'.repeat(LIMITS.docIdLength + 1) }, /doc_id/],
    ['an empty name', { filename: '' }, /filename/],
  ])('refuses %s with 400 and a message, changing nothing', async (_name, payload, message) => {
    const file = await create('keep.xml', '<k/>');
    const res = await patch(file.stable_id, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, message: expect.stringMatching(message) });
    expect(h.docsync.files.get(file.stable_id)).toMatchObject({ filename: 'keep.xml', metadata: { keep: true }, doc_id: null });
  });

  it('answers 413 to a PATCH body over the 1 MiB JSON limit, and 413 to a new version over the upload limit', async () => {
    const file = await create('big.xml', '<b/>');
    const huge = await patch(file.stable_id, { metadata: { text: 'x'.repeat(1024 * 1024) } });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ statusCode: 413, message: expect.stringMatching(/\S/) });
    const oversize = await put(file.stable_id, Buffer.alloc(1024 * 1024 + 1, 'x'));
    expect(oversize.statusCode).toBe(413);
    expect(oversize.json().message).toMatch(/1 MB|1048576|limit/i);
    expect(h.docsync.files.get(file.stable_id)).toMatchObject({ hash: file.hash, metadata: { keep: true } });
  });

  it('answers 413 to a multipart new version over the limit instead of storing the first 1 MiB of it', async () => {
    const file = await create('cut.txt', 'whole');
    const body = uploadBody('cut.txt', Buffer.alloc(1024 * 1024 + 10, 'x'));
    const res = await h.app.inject({ method: 'PUT', url: `/api/v1/files/${file.stable_id}/content`, payload: body.payload, headers: { ...h.auth, ...body.headers } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'payload_too_large', message: expect.stringMatching(/limit/) });
    expect(h.docsync.files.get(file.stable_id)).toMatchObject({ hash: file.hash, size: 5 });
    // Exactly at the limit is still fine.
    const full = uploadBody('cut.txt', Buffer.alloc(1024 * 1024, 'y'));
    const ok = await h.app.inject({ method: 'PUT', url: `/api/v1/files/${file.stable_id}/content`, payload: full.payload, headers: { ...h.auth, ...full.headers } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().size).toBe(1024 * 1024);
  });

  it('answers 404 for an unknown or deleted id, 400 for a malformed one', async () => {
    expect((await patch('zzzzzzzzzzzz', { filename: 'x.txt' })).statusCode).toBe(404);
    expect((await put('zzzzzzzzzzzz', 'x')).statusCode).toBe(404);
    const gone = await create('gone.txt', 'bye');
    h.docsync.files.delete(gone.stable_id);
    expect((await patch(gone.stable_id, { filename: 'x.txt' })).json()).toMatchObject({ statusCode: 404, error: 'not_found' });
    expect((await put(gone.stable_id, 'x')).statusCode).toBe(404);
    expect((await patch('no%20such', { filename: 'x.txt' })).statusCode).toBe(400);
  });

  it('a new version keeps the stable_id, is pushed by the next sync, and both versions are in the history', async () => {
    const file = await create('notes.txt', 'first version');
    expect((await sync()).uploaded).toBeGreaterThanOrEqual(1);
    const replaced = await put(file.stable_id, 'second version, longer');
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json()).toMatchObject({ stable_id: file.stable_id, filename: 'notes.txt', hash: sha256('second version, longer'), size: 22, sync_status: 'modified' });
    const summary = await sync();
    expect(summary.uploaded).toBe(1);
    const history = await h.app.inject({ method: 'GET', url: `/api/v1/files/${file.stable_id}/history`, headers: h.auth });
    const versions = history.json<{ versions: Array<{ hash: string; size: number; current: boolean }> }>().versions;
    expect(versions.map((v) => [v.hash, v.size, v.current])).toEqual([
      [sha256('second version, longer'), 22, true],
      [sha256('first version'), 13, false],
    ]);
  });
});
