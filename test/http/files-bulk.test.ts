/**
 * The file list at scale and actions on many files (issue 13): sorted pages with keyset cursors,
 * bulk changes by ids and by filter with per-file failures, and a zip streamed with flat memory.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { newLocalFile } from '../../src/domain/file.ts';
import { startServer } from '../../src/http/server.ts';
import { createHttpInstance, tempDir, uploadBody, type HttpInstance } from '../support/instance.ts';

interface Page {
  files: FileRecord[];
  total: number;
  next_cursor: string | null;
}

describe('file list sorting, bulk actions and zip', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance({ PORT: '0' });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.docsync.db.exec('DELETE FROM files');
  });

  const get = (url: string) => h.app.inject({ method: 'GET', url, headers: h.auth });
  const post = (url: string, payload: unknown) => h.app.inject({ method: 'POST', url, headers: h.auth, payload: payload as object });
  const upload = async (filename: string, content: string, fields: Record<string, string> = {}): Promise<FileRecord> => {
    const body = uploadBody(filename, content, fields);
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/files', payload: body.payload, headers: { ...h.auth, ...body.headers } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<FileRecord>();
  };
  /** Rows straight into the store: many files without many uploads. */
  const seed = (count: number, make: (i: number) => Partial<FileRecord>) => {
    const rows: FileRecord[] = [];
    for (let i = 0; i < count; i++) {
      const id = `f${String(i).padStart(6, '0')}`;
      rows.push({
        ...newLocalFile({ stable_id: id as FileRecord['stable_id'], hash: 'a'.repeat(64), filename: `${id}.pdf`, file_type: 'pdf', size: 1 }, '2026-01-01T00:00:00.000Z'),
        ...make(i),
      });
    }
    h.docsync.fileRepository.insertMany(rows);
  };
  const allPages = async (query: string, limit: number): Promise<FileRecord[]> => {
    const seen: FileRecord[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/api/v1/files?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<Page>();
      seen.push(...page.files);
      cursor = page.next_cursor;
    } while (cursor);
    return seen;
  };

  it.each([
    ['name', 'asc', (f: FileRecord) => f.filename.toLowerCase()],
    ['name', 'desc', (f: FileRecord) => f.filename.toLowerCase()],
    ['size', 'asc', (f: FileRecord) => f.size],
    ['size', 'desc', (f: FileRecord) => f.size],
    ['modified', 'desc', (f: FileRecord) => f.updated_at],
    ['type', 'asc', (f: FileRecord) => f.file_type],
  ] as const)('pages sorted by %s %s never repeat or skip a row, though many rows share a key', async (sort, order, key) => {
    // 7 sizes, 3 types, 5 names, 4 dates over 250 rows: every page boundary falls inside a run of equal keys.
    seed(250, (i) => ({
      size: i % 7,
      file_type: ['pdf', 'xml', 'png'][i % 3]!,
      filename: `${['Beta', 'alpha', 'gamma', 'Alpha', 'delta'][i % 5]}.${['pdf', 'xml', 'png'][i % 3]}`,
      updated_at: `2026-0${(i % 4) + 1}-01T00:00:00.000Z`,
    }));
    const rows = await allPages(`sort=${sort}&order=${order}`, 17);
    expect(rows).toHaveLength(250);
    expect(new Set(rows.map((f) => f.stable_id)).size).toBe(250);
    const keys = rows.map((f) => (key as (f: FileRecord) => string | number)(f));
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(keys).toEqual(order === 'asc' ? sorted : sorted.reverse());
  });

  it('keeps the filename search while sorted, and the total counts every match', async () => {
    seed(60, (i) => ({ filename: `${i % 2 ? 'report' : 'scan'}-${String(i).padStart(2, '0')}.pdf`, size: 100 - i }));
    const rows = await allPages('sort=size&order=asc&q=report', 7);
    expect(rows).toHaveLength(30);
    expect(rows.every((f) => f.filename.startsWith('report'))).toBe(true);
    expect(rows.map((f) => f.size)).toEqual([...rows.map((f) => f.size)].sort((a, b) => a - b));
    expect((await get('/api/v1/files?sort=size&q=report&limit=5')).json<Page>().total).toBe(30);
  });

  it('refuses a cursor of another sort, or a made-up one, with 400', async () => {
    seed(5, () => ({}));
    const first = (await get('/api/v1/files?sort=name&limit=2')).json<Page>();
    const other = await get(`/api/v1/files?sort=size&limit=2&cursor=${first.next_cursor}`);
    expect(other.statusCode).toBe(400);
    expect(other.json().message).toMatch(/another sort/);
    expect((await get('/api/v1/files?sort=name&cursor=bm9wZQ')).statusCode).toBe(400);
    expect((await get('/api/v1/files?sort=colour')).statusCode).toBe(400);
  });

  it('uses an index for every sorted page at 100K rows (fast first and deep pages, and jumps by offset)', async () => {
    seed(100_000, (i) => ({ filename: `doc-${(i * 7919) % 100_000}.pdf`, size: i % 1000, updated_at: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z` }));
    for (const sort of ['name', 'size', 'modified', 'type']) {
      for (const order of ['asc', 'desc']) {
        const plan = h.docsync.db
          .prepare(`EXPLAIN QUERY PLAN SELECT * FROM files WHERE deleted = 0 ORDER BY ${sort === 'name' ? 'filename COLLATE NOCASE' : sort === 'modified' ? 'updated_at' : sort === 'type' ? 'file_type' : 'size'} ${order}, stable_id ${order} LIMIT 101`)
          .all() as Array<{ detail: string }>;
        expect(plan.map((p) => p.detail).join(' '), `${sort} ${order}`).not.toMatch(/TEMP B-TREE/);
        let cursor: string | null = null;
        for (let step = 0; step < 3; step++) {
          const started = performance.now();
          const res = await get(`/api/v1/files?sort=${sort}&order=${order}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
          expect(performance.now() - started, `${sort} ${order} page ${step}`).toBeLessThan(100);
          cursor = res.json<Page>().next_cursor;
        }
        // A scrollbar dragged far down: the page asks by offset.
        const started = performance.now();
        const far = await get(`/api/v1/files?sort=${sort}&order=${order}&limit=50&offset=93000`);
        expect(performance.now() - started, `${sort} ${order} at offset 93,000`).toBeLessThan(100);
        expect(far.json<Page>().files).toHaveLength(50);
      }
    }
    // The default order, newest first (by rowid): its own index, no sort of the whole table.
    const plan = h.docsync.db.prepare('EXPLAIN QUERY PLAN SELECT * FROM files WHERE deleted = 0 ORDER BY rowid DESC LIMIT 51 OFFSET 93000').all() as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).not.toMatch(/TEMP B-TREE/);
    for (const offset of [0, 50_000, 93_000]) {
      const started = performance.now();
      const res = await get(`/api/v1/files?limit=50&offset=${offset}`);
      expect(performance.now() - started, `newest first at offset ${offset}`).toBeLessThan(100);
      expect(res.json<Page>().files).toHaveLength(50);
    }
  }, 60_000);

  it('adds and removes labels and collections on explicit ids, and reports the files that failed', async () => {
    const a = await upload('a.pdf', 'A', { labels: '["keep"]' });
    const b = await upload('b.pdf', 'B');
    const gone = await upload('c.pdf', 'C');
    await h.app.inject({ method: 'DELETE', url: `/api/v1/files/${gone.stable_id}`, headers: h.auth });
    const added = await post('/api/v1/files/bulk', { ids: [a.stable_id, b.stable_id, gone.stable_id], action: 'add_labels', values: ['urgent'] });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json()).toEqual({ done: 2, failed: 1, failures: [{ id: gone.stable_id, error: 'not_found', message: expect.stringContaining(gone.stable_id) }] });
    expect((await get(`/api/v1/files/${a.stable_id}`)).json<FileRecord>().labels).toEqual(['keep', 'urgent']);
    expect((await get(`/api/v1/files/${b.stable_id}`)).json<FileRecord>().labels).toEqual(['urgent']);
    await post('/api/v1/files/bulk', { ids: [a.stable_id, b.stable_id], action: 'add_collections', values: ['thesis'] });
    const removed = await post('/api/v1/files/bulk', { ids: [a.stable_id], action: 'remove_labels', values: ['keep'] });
    expect(removed.json()).toMatchObject({ done: 1, failed: 0 });
    expect((await get(`/api/v1/files/${a.stable_id}`)).json<FileRecord>()).toMatchObject({ labels: ['urgent'], collections: ['thesis'] });
    const noValues = await post('/api/v1/files/bulk', { ids: [a.stable_id], action: 'add_labels' });
    expect(noValues.statusCode).toBe(400);
    expect((await post('/api/v1/files/bulk', { action: 'delete' })).statusCode).toBe(400);
  });

  it('acts on everything matching a filter (minus exceptions) without the page sending ids', async () => {
    seed(1200, (i) => ({ labels: i % 2 ? ['inbox'] : [] }));
    const keep = 'f000001';
    const res = await post('/api/v1/files/bulk', { filter: { label: 'inbox' }, except: [keep], action: 'remove_labels', values: ['inbox'] });
    expect(res.json()).toEqual({ done: 599, failed: 0, failures: [] });
    expect((await get('/api/v1/files?label=inbox&limit=5')).json<Page>().total).toBe(1);
    const deleted = await post('/api/v1/files/bulk', { filter: { q: 'f0000' }, action: 'delete' });
    expect(deleted.json()).toMatchObject({ done: 100, failed: 0 });
    expect((await get('/api/v1/files?limit=1')).json<Page>().total).toBe(1100);
  });

  it('lists the bulk and zip routes in the OpenAPI document', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(doc.paths['/api/v1/files/bulk']?.post).toBeDefined();
    expect(doc.paths['/api/v1/files/zip']?.post).toBeDefined();
    expect(doc.paths['/api/v1/files/zip-links']?.post).toBeDefined();
    expect(doc.paths['/api/v1/files/zip/{link}']?.get).toBeDefined();
  });

  it('zips a selection with safe, unique names and the exact bytes', async () => {
    const one = await upload('same.txt', 'first');
    const two = await upload('SAME.txt', 'second');
    const evil = await upload('../../etc/passwd', 'root');
    const res = await post('/api/v1/files/zip', { ids: [one.stable_id, two.stable_id, evil.stable_id] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="docsync-\d{4}-\d\d-\d\d\.zip"$/);
    const dir = tempDir();
    try {
      const zip = path.join(dir.dir, 'out.zip');
      fs.writeFileSync(zip, res.rawPayload);
      const names = execFileSync('unzip', ['-Z1', zip]).toString().trim().split('\n');
      expect(names).toEqual(['same.txt', `SAME (${two.stable_id.slice(0, 8)}).txt`, '_._.._etc_passwd']);
      expect(execFileSync('unzip', ['-p', zip, names[1]!]).toString()).toBe('second');
      expect(execFileSync('unzip', ['-p', zip, names[2]!]).toString()).toBe('root');
    } finally {
      dir.remove();
    }
  });

  it('gives the page one-time zip links that expire, and refuses a selection that is neither ids nor a filter', async () => {
    const one = await upload('linked.txt', 'by link');
    const made = await post('/api/v1/files/zip-links', { ids: [one.stable_id] });
    expect(made.statusCode, made.body).toBe(201);
    const url = `/api/v1/${made.json<{ url: string }>().url}`;
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.rawPayload.includes(Buffer.from('by link'))).toBe(true);
    expect((await get(url)).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    const late = `/api/v1/${(await post('/api/v1/files/zip-links', { filter: {} })).json<{ url: string }>().url}`;
    h.clock.advance(61_000);
    expect((await get(late)).statusCode).toBe(404);
    expect((await post('/api/v1/files/zip', {})).statusCode).toBe(400);
    expect((await post('/api/v1/files/zip-links', { ids: [] })).statusCode).toBe(400);
  });

  it('streams a large zip with flat memory: RSS does not grow with the total size', async () => {
    // 40 files of 8 MiB (320 MiB) under one filter; read over a real socket, a chunk at a time.
    const blob = Buffer.alloc(8 * 1024 * 1024, 7);
    for (let i = 0; i < 40; i++) await h.docsync.files.create(Readable.from([blob]), { filename: `big-${i}.bin`, labels: ['big'] });
    const server = await startServer(h.docsync);
    try {
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const res = await fetch(`${server.url}/api/v1/files/zip`, {
        method: 'POST',
        headers: { ...h.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ filter: { label: 'big' } }),
      });
      expect(res.status).toBe(200);
      let total = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      expect(total).toBeGreaterThan(40 * blob.length);
      // Buffering would need the whole 320 MiB; streaming needs a few chunks. RSS also keeps memory
      // the allocator has not handed back: on Node 24 a streamed run peaked at 100-150 MiB (Node 20:
      // under 100), so the bound is half the total, which only buffering crosses.
      console.log(`[zip] RSS grew ${((peak - before) / 2 ** 20).toFixed(0)} MiB while streaming ${(total / 2 ** 20).toFixed(0)} MiB`);
      expect(peak - before).toBeLessThan(160 * 1024 * 1024);
    } finally {
      await server.close();
    }
  }, 60_000);
});
