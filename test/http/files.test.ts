import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { OffThreadHash } from '../../src/store/off-thread-hash.ts';
import { createHttpInstance, multipart, uploadBody, type HttpInstance } from '../support/instance.ts';


const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('files API', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance({ DOCSYNC_MAX_UPLOAD_MB: '1' });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.docsync.db.exec('DELETE FROM files');
  });

  const upload = async (filename: string, content: string | Buffer, fields: Record<string, string> = {}) => {
    return h.app.inject({ method: 'POST', url: '/api/v1/files', ...withHeaders(uploadBody(filename, content, fields)) });
  };
  const withHeaders = (b: { payload: Buffer; headers: Record<string, string> }) => ({
    payload: b.payload,
    headers: { ...h.auth, ...b.headers },
  });
  const created = async (filename: string, content: string | Buffer, fields: Record<string, string> = {}) => {
    const res = await upload(filename, content, fields);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<FileRecord>();
  };
  const get = (url: string, headers: Record<string, string> = {}) =>
    h.app.inject({ method: 'GET', url, headers: { ...h.auth, ...headers } });

  describe('POST /files', () => {
    it('stores the upload with its fields and answers 201 with the file', async () => {
      const file = await created('thesis.pdf', '%PDF-1.7 content', {
        doc_id: 'doc-7',
        collections: '["phd","2026"]',
        labels: '["draft"]',
        metadata: '{"title":"On Sync"}',
      });
      expect(file).toMatchObject({
        filename: 'thesis.pdf',
        file_type: 'pdf',
        mime_type: 'application/pdf',
        size: 16,
        hash: sha256('%PDF-1.7 content'),
        doc_id: 'doc-7',
        collections: ['phd', '2026'],
        labels: ['draft'],
        metadata: { title: 'On Sync' },
        sync_status: 'modified',
        deleted: false,
      });
      const stored = await get(`/api/v1/files/${file.stable_id}`);
      expect(stored.json()).toEqual(file);
    });

    it.each([
      ['collections', 'not json', /collections must be valid JSON/],
      ['collections', '"a string"', /collections must be a JSON array of strings/],
      ['labels', '[1,2]', /labels must be a JSON array of strings/],
      ['metadata', '[]', /metadata must be a JSON object/],
      ['doc_id', '', /doc_id must be 1-200 characters/],
      ['owner', 'me', /unknown field 'owner'/],
    ])('refuses field %s = %j with 400', async (field, value, message) => {
      const res = await upload('a.txt', 'x', { [field]: value });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(message);
      expect(h.docsync.files.list({ limit: 10 }).total).toBe(0);
      expect(fs.readdirSync(path.join(h.dataDir, 'tmp'))).toEqual([]);
    });

    it('needs a file part', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/api/v1/files', ...withHeaders(multipart([{ name: 'labels', value: '[]' }])) });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toBe("multipart field 'file' is required");
    });

    it('refuses a JSON body', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/api/v1/files', headers: h.auth, payload: { file: 'x' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/multipart\/form-data/);
    });

    it('refuses a second file part', async () => {
      const body = multipart([
        { name: 'file', value: 'one', filename: 'one.txt' },
        { name: 'file', value: 'two', filename: 'two.txt' },
      ]);
      const res = await h.app.inject({ method: 'POST', url: '/api/v1/files', ...withHeaders(body) });
      expect(res.statusCode).toBe(413);
      expect(h.docsync.files.list({ limit: 10 }).total).toBe(0);
    });

    it('answers 413 over the upload limit and keeps nothing', async () => {
      const res = await upload('big.bin', Buffer.alloc(1024 * 1024 + 10, 7));
      expect(res.statusCode).toBe(413);
      expect(res.json().message).toMatch(/1 MB|too large/);
      expect(h.docsync.files.list({ limit: 10 }).total).toBe(0);
      expect(fs.readdirSync(path.join(h.dataDir, 'tmp'))).toEqual([]);
      const exact = await upload('exact.bin', Buffer.alloc(1024 * 1024, 7));
      expect(exact.statusCode).toBe(201);
    });

    it('answers 413 from the declared length before reading the body', async () => {
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...h.auth, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(50 * 1024 * 1024) },
        payload: '--x--\r\n',
      });
      expect(res.statusCode).toBe(413);
    });

    it('stores ../../etc/passwd as a name that cannot escape the data dir', async () => {
      const file = await created('../../etc/passwd', 'not really');
      expect(file.filename).toBe('../../etc/passwd');
      const res = await get(`/api/v1/files/${file.stable_id}/content`);
      expect(res.body).toBe('not really');
      expect(res.headers['content-disposition']).not.toContain('/');
      const blobs = fs.readdirSync(path.join(h.dataDir, 'blobs'), { recursive: true }) as string[];
      expect(blobs).toContain(path.join(file.hash.slice(0, 2), `${file.hash}.bin`));
    });
  });

  describe('GET /files', () => {
    it('lists with filters, totals and a cursor', async () => {
      await created('a.pdf', 'a', { collections: '["c1"]', labels: '["l1"]', doc_id: 'd' });
      await created('b.txt', 'b', { collections: '["c2"]', labels: '["l1"]' });
      await created('Report B.txt', 'c', { doc_id: 'd' });
      const list = async (query: string) => {
        const res = await get(`/api/v1/files${query}`);
        expect(res.statusCode, res.body).toBe(200);
        return res.json<{ files: FileRecord[]; total: number; next_cursor: string | null }>();
      };
      expect((await list('')).files.map((f) => f.filename)).toEqual(['Report B.txt', 'b.txt', 'a.pdf']);
      expect((await list('?collection=c1')).files.map((f) => f.filename)).toEqual(['a.pdf']);
      expect((await list('?label=l1')).total).toBe(2);
      expect((await list('?doc_id=d')).files.map((f) => f.filename)).toEqual(['Report B.txt', 'a.pdf']);
      expect((await list('?q=b')).files.map((f) => f.filename)).toEqual(['Report B.txt', 'b.txt']);
      const page1 = await list('?limit=2');
      expect(page1).toMatchObject({ total: 3 });
      expect(page1.files).toHaveLength(2);
      const page2 = await list(`?limit=2&cursor=${page1.next_cursor}`);
      expect(page2.files.map((f) => f.filename)).toEqual(['a.pdf']);
      expect(page2.next_cursor).toBeNull();
    });

    it('jumps to a position with offset, then pages on by cursor (the windowed list)', async () => {
      for (const name of ['e.txt', 'c.txt', 'a.txt', 'd.txt', 'b.txt']) await created(name, name);
      const list = async (query: string) => {
        const res = await get(`/api/v1/files${query}`);
        expect(res.statusCode, res.body).toBe(200);
        return res.json<{ files: FileRecord[]; total: number; next_cursor: string | null }>();
      };
      const jumped = await list('?sort=name&limit=2&offset=1');
      expect(jumped.files.map((f) => f.filename)).toEqual(['b.txt', 'c.txt']);
      expect(jumped.total).toBe(5);
      const next = await list(`?sort=name&limit=2&cursor=${jumped.next_cursor}`);
      expect(next.files.map((f) => f.filename)).toEqual(['d.txt', 'e.txt']);
      expect(next.next_cursor).toBeNull();
      // Newest first (no sort) skips the same way; past the end is an empty page, not an error.
      expect((await list('?limit=2&offset=3')).files.map((f) => f.filename)).toEqual(['c.txt', 'e.txt']);
      expect(await list('?limit=2&offset=50')).toMatchObject({ files: [], total: 5, next_cursor: null });
      const both = await get(`/api/v1/files?offset=1&cursor=${jumped.next_cursor}`);
      expect(both.statusCode).toBe(400);
      expect(both.json().message).toBe('offset and cursor cannot be used together');
    });

    it('shows tombstones only with include_deleted', async () => {
      const file = await created('gone.txt', 'x');
      await h.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.stable_id}`, headers: h.auth });
      expect((await get('/api/v1/files')).json().total).toBe(0);
      const all = (await get('/api/v1/files?include_deleted=true')).json<{ files: FileRecord[] }>();
      expect(all.files).toHaveLength(1);
      expect(all.files[0]).toMatchObject({ deleted: true, sync_status: 'pending_delete' });
    });

    it.each([
      ['?limit=0', /querystring\/limit must be >= 1/],
      ['?limit=5000', /querystring\/limit must be <= 1000/],
      ['?limit=ten', /querystring\/limit must be integer/],
      ['?include_deleted=maybe', /querystring\/include_deleted must be boolean/],
      ['?sort=colour', /querystring\/sort must be equal to one of the allowed values/],
      ['?owner=me', /querystring must NOT have additional properties/],
      ['?cursor=%25%25', /cursor is not valid/],
      ['?offset=-1', /querystring\/offset must be >= 0/],
    ])('refuses %s with 400', async (query, message) => {
      const res = await get(`/api/v1/files${query}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(message);
    });
  });

  describe('GET /files/:id and content', () => {
    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const missing = await get('/api/v1/files/zzzzzzzzzzzz');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().message).toBe("No file with id 'zzzzzzzzzzzz'");
      const malformed = await get('/api/v1/files/..%2F..%2Fetc');
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().message).toMatch(/params\/id must match pattern/);
      expect((await get('/api/v1/files/zzzzzzzzzzzz/content')).statusCode).toBe(404);
    });

    it('serves content with type, length and the content hash as ETag', async () => {
      const file = await created('notes.txt', 'hello world');
      const res = await get(`/api/v1/files/${file.stable_id}/content`);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('hello world');
      expect(res.headers['etag']).toBe(`"${file.hash}"`);
      expect(res.headers['content-length']).toBe('11');
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.headers['accept-ranges']).toBe('bytes');
      expect(res.headers['content-disposition']).toBe('inline; filename="notes.txt"');
      const cached = await get(`/api/v1/files/${file.stable_id}/content`, { 'if-none-match': `"${file.hash}"` });
      expect(cached.statusCode).toBe(304);
      expect(cached.body).toBe('');
      const stale = await get(`/api/v1/files/${file.stable_id}/content`, { 'if-none-match': '"other"' });
      expect(stale.statusCode).toBe(200);
    });

    it('serves byte ranges (206), suffix ranges, and 416 outside the content', async () => {
      const file = await created('digits.txt', '0123456789');
      const url = `/api/v1/files/${file.stable_id}/content`;
      const part = await get(url, { range: 'bytes=2-5' });
      expect(part.statusCode).toBe(206);
      expect(part.body).toBe('2345');
      expect(part.headers['content-range']).toBe('bytes 2-5/10');
      expect(part.headers['content-length']).toBe('4');
      expect((await get(url, { range: 'bytes=-3' })).body).toBe('789');
      expect((await get(url, { range: 'bytes=7-' })).body).toBe('789');
      const outside = await get(url, { range: 'bytes=20-30' });
      expect(outside.statusCode).toBe(416);
      expect(outside.headers['content-range']).toBe('bytes */10');
      // If-Range with an old ETag: the whole, current content.
      const whole = await get(url, { range: 'bytes=2-5', 'if-range': '"old"' });
      expect(whole.statusCode).toBe(200);
      expect(whole.body).toBe('0123456789');
    });
  });

  describe('PUT /files/:id/content', () => {
    it('replaces content from a raw body: same stable_id, new hash', async () => {
      const file = await created('doc.xml', '<v1/>');
      const res = await h.app.inject({
        method: 'PUT',
        url: `/api/v1/files/${file.stable_id}/content`,
        headers: { ...h.auth, 'content-type': 'application/octet-stream' },
        payload: '<v2/>',
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ stable_id: file.stable_id, hash: sha256('<v2/>'), size: 5, filename: 'doc.xml' });
      expect((await get(`/api/v1/files/${file.stable_id}/content`)).body).toBe('<v2/>');
    });

    it('replaces content from a multipart body', async () => {
      const file = await created('doc.xml', '<v1/>');
      const res = await h.app.inject({
        method: 'PUT',
        url: `/api/v1/files/${file.stable_id}/content`,
        ...withHeaders(uploadBody('anything.xml', '<v3/>')),
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().hash).toBe(sha256('<v3/>'));
    });

    it('answers 404 for an unknown file, 413 over the limit, 415 for other types', async () => {
      const file = await created('doc.xml', '<v1/>');
      const put = (url: string, type: string, payload: string | Buffer) =>
        h.app.inject({ method: 'PUT', url, headers: { ...h.auth, 'content-type': type }, payload });
      expect((await put('/api/v1/files/zzzzzzzzzzzz/content', 'application/octet-stream', 'x')).statusCode).toBe(404);
      const big = await put(`/api/v1/files/${file.stable_id}/content`, 'application/octet-stream', Buffer.alloc(1024 * 1024 + 1));
      expect(big.statusCode).toBe(413);
      expect((await put(`/api/v1/files/${file.stable_id}/content`, 'application/x-unknown', 'x')).statusCode).toBe(415);
      expect((await get(`/api/v1/files/${file.stable_id}/content`)).body).toBe('<v1/>');
    });

    it('over real HTTP, a chunked upload past the limit gets 413 and a closed connection, and the server still stops', async () => {
      const server = await createHttpInstance({ DOCSYNC_MAX_UPLOAD_MB: '1' });
      try {
        const made = await server.app.inject({ method: 'POST', url: '/api/v1/files', payload: uploadBody('real.xml', '<r/>').payload, headers: { ...server.auth, ...uploadBody('real.xml', '<r/>').headers } });
        const file = made.json<FileRecord>();
        const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
        // No Content-Length: the limit is only found while the body streams in.
        const answer = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
          const req = http.request(`${base}/api/v1/files/${file.stable_id}/content`, {
            method: 'PUT',
            headers: { ...server.auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
          });
          req.on('response', (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
          });
          req.on('error', reject);
          const chunk = Buffer.alloc(256 * 1024, 'z');
          let sent = 0;
          const pump = () => {
            while (sent < 8 * 1024 * 1024 && !req.destroyed) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            req.end();
          };
          pump();
        });
        expect(answer.status).toBe(413);
        expect(answer.connection).toBe('close');
        expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 413 });
        expect(server.docsync.files.get(file.stable_id)).toMatchObject({ hash: file.hash });
      } finally {
        await server.close();
      }
    });
  });

  describe('PATCH /files/:id', () => {
    it('changes metadata only', async () => {
      const file = await created('a.pdf', 'content');
      const res = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/files/${file.stable_id}`,
        headers: h.auth,
        payload: { collections: ['x', 'y'], labels: ['done'], filename: 'b.pdf', metadata: { n: 1 }, doc_id: null },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        stable_id: file.stable_id,
        hash: file.hash,
        filename: 'b.pdf',
        collections: ['x', 'y'],
        labels: ['done'],
        metadata: { n: 1 },
        doc_id: null,
      });
    });

    it.each([
      [{}, /body must NOT have fewer than 1 properties/],
      [{ labels: 'x' }, /body\/labels must be array/],
      [{ labels: [1] }, /body\/labels\/0 must be string/],
      [{ collections: ['ok'], owner: 'me' }, /body must NOT have additional properties/],
      [{ metadata: [] }, /body\/metadata must be object/],
      [{ filename: '' }, /body\/filename must NOT have fewer than 1 characters/],
      [{ filename: 'a\u0000b' }, /filename must not contain control characters/],
      [{ doc_id: 5 }, /body\/doc_id/],
    ])('refuses %j with 400 naming the field', async (payload, message) => {
      const file = await created('a.pdf', 'content', { labels: '["keep"]' });
      const res = await h.app.inject({ method: 'PATCH', url: `/api/v1/files/${file.stable_id}`, headers: h.auth, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(message);
      expect(h.docsync.files.get(file.stable_id).labels).toEqual(['keep']);
    });

    it('refuses malformed JSON with 400', async () => {
      const file = await created('a.pdf', 'content');
      const res = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/files/${file.stable_id}`,
        headers: { ...h.auth, 'content-type': 'application/json' },
        payload: '{"labels": [',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/JSON/);
    });
  });

  describe('DELETE /files/:id', () => {
    it('makes a tombstone: gone from reads, 404 the second time', async () => {
      const file = await created('a.txt', 'x');
      const del = await h.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.stable_id}`, headers: h.auth });
      expect(del.statusCode).toBe(204);
      expect((await get(`/api/v1/files/${file.stable_id}`)).statusCode).toBe(404);
      expect((await get(`/api/v1/files/${file.stable_id}/content`)).statusCode).toBe(404);
      const tomb = await get(`/api/v1/files/${file.stable_id}?include_deleted=true`);
      expect(tomb.json()).toMatchObject({ deleted: true, sync_status: 'pending_delete' });
      const again = await h.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.stable_id}`, headers: h.auth });
      expect(again.statusCode).toBe(404);
    });
  });
});

describe('large uploads', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance({ DOCSYNC_MAX_UPLOAD_MB: '32' });
  });
  afterAll(() => h.close());
  const post = (filename: string, content: string | Buffer) => {
    const body = uploadBody(filename, content);
    return h.app.inject({ method: 'POST', url: '/api/v1/files', payload: body.payload, headers: { ...h.auth, ...body.headers } });
  };

  it('a body of 8 MiB or more (by its Content-Length) is hashed on the worker thread; smaller ones inline; both hash right', async () => {
    const digests = vi.spyOn(OffThreadHash.prototype, 'digest');
    try {
      const big = Buffer.alloc(9 * 1024 * 1024, 'b');
      big.write('first bytes differ', 0);
      const posted = await post('scan.tif', big);
      expect(posted.statusCode, posted.body).toBe(201);
      expect(posted.json<FileRecord>()).toMatchObject({ size: big.length, hash: sha256(big) });
      expect(digests).toHaveBeenCalledTimes(1);

      const bigger = Buffer.concat([big, Buffer.from(' and a new version')]);
      const id = posted.json<FileRecord>().stable_id;
      const replaced = await h.app.inject({
        method: 'PUT',
        url: `/api/v1/files/${id}/content`,
        payload: bigger,
        headers: { ...h.auth, 'content-type': 'application/octet-stream' },
      });
      expect(replaced.statusCode, replaced.body).toBe(200);
      expect(replaced.json<FileRecord>()).toMatchObject({ size: bigger.length, hash: sha256(bigger) });
      expect(digests).toHaveBeenCalledTimes(2);

      const small = await post('note.txt', 'small');
      expect(small.json<FileRecord>()).toMatchObject({ hash: sha256('small') });
      expect(digests).toHaveBeenCalledTimes(2);
    } finally {
      digests.mockRestore();
    }
  });
});
