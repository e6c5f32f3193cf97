import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { buildApp } from '../../src/http/app.ts';
import type { SyncSummary } from '../../src/sync/events.ts';
import { startCluster, type Cluster, type Node } from '../support/cluster.ts';
import { createHttpInstance, TEST_PASSWORD, type HttpInstance } from '../support/instance.ts';
import { remoteTargetNames, startRemoteTarget, type FreshRemote, type RemoteTarget } from '../support/remote-targets.ts';
import { commitTampered, insertRawRows, rawRow, type RawRow } from '../support/tamper.ts';

/** Rows nobody should have written, each with one fault; `forged` supplies the rest from a good row. */
const BAD_ROWS: Array<[string, RawRow]> = [
  ['collections not JSON', { stable_id: 'badjsn234567', collections: 'not json' }],
  ['path-like stable_id', { stable_id: '../../etc/passwd' }],
  ['300-character stable_id', { stable_id: 'a'.repeat(300) }],
  ['newline in the filename', { stable_id: 'badnam234567', filename: 'evil\nname.txt' }],
  ['NUL in the filename', { stable_id: 'badnux234567', filename: 'nul\u0000.txt' }],
  ['path-like file_type', { stable_id: 'badtyp234567', file_type: '../x' }],
  ['hash not hex', { stable_id: 'badhsh234567', hash: 'not-a-hash/../../x' }],
  ['negative size', { stable_id: 'badsze234567', size: -1 }],
  ['metadata an array', { stable_id: 'badmta234567', metadata: '[1,2]' }],
];

/** A logged-in app over a cluster node, its warnings collected. */
async function httpOver(node: Node) {
  const warnings: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) warnings.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  await node.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(node.docsync, { logger: { level: 'warn', stream } });
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: TEST_PASSWORD } });
  const auth = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
  return { app, auth, warnings };
}

/** Remote rows are input (docs/design.md#untrusted-remotes): a bad row is skipped and reported, never a 500, never a path. */
describe.each(remoteTargetNames())('invalid remote rows on %s', (name) => {
  let target: RemoteTarget;
  let cluster: Cluster;
  let fresh: FreshRemote;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());
  afterEach(() => cluster?.close());

  const start = (names = ['a', 'b']) => {
    fresh = target.fresh();
    cluster = startCluster(fresh, names);
    return cluster.nodes;
  };
  const byName = (node: Node) => Object.fromEntries(node.live().map((f) => [f.filename, f])) as Record<string, FileRecord>;

  it('are skipped and reported; good rows arrive; every listed file reads and deletes; nothing local is lost', async () => {
    const [a, b, c] = start(['a', 'b', 'c']) as [Node, Node, Node];
    await a.put('x.txt', 'original');
    await a.sync();
    await b.sync();
    await b.put('pending.txt', 'not yet synced');
    const good = await a.put('good.txt', 'good', { collections: ['kept'] });
    await a.sync();
    await commitTampered(fresh.connect(), (db, version) => {
      const template = rawRow(db, good.stable_id);
      insertRawRows(db, [
        ...BAD_ROWS.map(([, fault]) => ({ ...template, version, ...fault })),
        // A valid row that claims HTML for a text file: arrives, typed from its name.
        { ...template, version, stable_id: 'htmmmm234567', filename: 'page.txt', mime_type: 'text/html' },
      ]);
    });

    const { app, auth, warnings } = await httpOver(b);
    try {
      const sync = await app.inject({ method: 'POST', url: '/api/v1/sync', headers: auth, payload: {} });
      expect(sync.statusCode, sync.body).toBe(200);
      const summary = sync.json<SyncSummary>();
      expect(summary).toMatchObject({ skipped_rows: BAD_ROWS.length, downloaded: 2, uploaded: 1, errors: 0 });
      expect(summary.message).toMatch(new RegExp(`${BAD_ROWS.length} invalid remote row\\(s\\) skipped \\(.*collections is not JSON`));
      expect(summary.message).not.toMatch(/\n|\u0000/);
      // Logged once for this sync, with the count.
      expect(warnings.filter((w) => w.skipped_rows !== undefined)).toEqual([
        expect.objectContaining({ skipped_rows: BAD_ROWS.length, msg: summary.message }),
      ]);

      // The next sync meets nothing new: no failure on every sync, no repeated report.
      const again = await app.inject({ method: 'POST', url: '/api/v1/sync', headers: auth, payload: {} });
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json<SyncSummary>()).toMatchObject({ skipped_rows: 0, errors: 0 });

      const files = b.live();
      expect(files.map((f) => f.filename).sort()).toEqual(['good.txt', 'page.txt', 'pending.txt', 'x.txt']);
      expect(byName(b)['page.txt']!.mime_type).toBe('text/plain');
      expect(byName(b)['good.txt']!.collections).toEqual(['kept']);
      const listed = await app.inject({ method: 'GET', url: '/api/v1/files?limit=1000', headers: auth });
      expect(listed.statusCode).toBe(200);
      const ids = listed.json<{ files: FileRecord[] }>().files.map((f) => f.stable_id);
      expect(ids).toHaveLength(4);
      for (const id of ids) {
        const content = await app.inject({ method: 'GET', url: `/api/v1/files/${id}/content`, headers: auth });
        expect(content.statusCode, `read ${id}`).toBe(200);
      }
      expect((await app.inject({ method: 'GET', url: `/api/v1/files/htmmmm234567/content`, headers: auth })).headers['content-type']).toMatch(/^text\/plain/);

      // Another instance that had seen the earlier version, and one that never synced: the same.
      expect(await a.sync()).toMatchObject({ skipped_rows: BAD_ROWS.length, downloaded: 2, errors: 0 });
      expect(await c.sync()).toMatchObject({ skipped_rows: BAD_ROWS.length, errors: 0 });
      expect(await c.contents()).toEqual({ 'x.txt': 'original', 'good.txt': 'good', 'page.txt': 'good', 'pending.txt': 'not yet synced' });

      for (const id of ids) {
        const deleted = await app.inject({ method: 'DELETE', url: `/api/v1/files/${id}`, headers: auth });
        expect(deleted.statusCode, `delete ${id}`).toBeLessThan(300);
      }
      const afterDelete = await app.inject({ method: 'POST', url: '/api/v1/sync', headers: auth, payload: {} });
      expect(afterDelete.statusCode, afterDelete.body).toBe(200);
      expect(afterDelete.json<SyncSummary>()).toMatchObject({ deleted_remote: 4, errors: 0 });
      expect(await a.sync()).toMatchObject({ deleted_local: 4, errors: 0 });
      expect(a.live()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it("a good local file whose remote row turns bad: local stays, and its next local change republishes a good row", async () => {
    const [a, b] = start() as [Node, Node];
    const x = await a.put('x.txt', 'original', { labels: ['v1'] });
    await a.sync();
    await b.sync();
    // a changes x (not yet synced); the remote row of x turns bad meanwhile.
    a.docsync.files.updateMetadata(x.stable_id, { labels: ['v2'] });
    await commitTampered(fresh.connect(), (db, version) => {
      db.prepare("UPDATE files SET collections = 'not json', version = ? WHERE stable_id = ?").run(version, x.stable_id);
    });

    // b had the good version: it keeps it, synced, not deleted, no conflict.
    expect(await b.sync()).toMatchObject({ skipped_rows: 1, deleted_local: 0, conflicts: 0, errors: 0 });
    expect(b.docsync.files.get(x.stable_id)).toMatchObject({ labels: ['v1'], deleted: false, sync_status: 'synced' });
    expect(await b.content(x.stable_id)).toBe('original');
    // Seen once, then the quick check finds nothing to do: no sync fails or repeats forever.
    expect(await b.sync()).toMatchObject({ skipped: true });

    // a's pending change is published over the bad row, once.
    expect(await a.sync()).toMatchObject({ skipped_rows: 1, conflicts: 0, errors: 0 });
    expect(a.docsync.files.get(x.stable_id)).toMatchObject({ labels: ['v2'], sync_status: 'synced' });
    expect(await a.sync()).toMatchObject({ skipped: true });

    // The remote row is good again: b takes it as an ordinary change.
    expect(await b.sync()).toMatchObject({ skipped_rows: 0, conflicts: 0, errors: 0 });
    expect(b.docsync.files.get(x.stable_id)).toMatchObject({ labels: ['v2'], sync_status: 'synced' });
    expect(await b.content(x.stable_id)).toBe('original');
  });

  it('a bad row whose file this instance never had: nothing local changes, the rest still syncs', async () => {
    const [a, b] = start() as [Node, Node];
    const x = await a.put('x.txt', 'original');
    await a.sync();
    await commitTampered(fresh.connect(), (db, version) => {
      db.prepare("UPDATE files SET file_type = '../../x', version = ? WHERE stable_id = ?").run(version, x.stable_id);
    });
    await b.put('mine.txt', 'mine');
    const dry = await b.sync({ dryRun: true });
    expect(dry).toMatchObject({ skipped_rows: 1, uploaded: 1, downloaded: 0 });
    expect(dry.message).toMatch(/^Dry run: a sync would upload 1; 1 invalid remote row\(s\) skipped \(".*": file_type must be/);
    expect(await b.sync()).toMatchObject({ skipped_rows: 1, uploaded: 1, downloaded: 0, errors: 0 });
    expect(await b.contents()).toEqual({ 'mine.txt': 'mine' });
    // a still has x, untouched, and receives b's file.
    expect(await a.sync()).toMatchObject({ skipped_rows: 1, downloaded: 1, deleted_local: 0, errors: 0 });
    expect(await a.contents()).toEqual({ 'x.txt': 'original', 'mine.txt': 'mine' });
  });
});

describe('a stored conflict whose remote side is unreadable (written by an older build)', () => {
  let t: HttpInstance;
  afterEach(() => t?.close());

  it('is listed, refuses remote_wins with 409, and resolves with local_wins', async () => {
    t = await createHttpInstance();
    const { Readable } = await import('node:stream');
    for (const [label, remoteRow] of [
      ['not json', 'not json'],
      ['bad id', JSON.stringify({ stable_id: '../../x', hash: 'zz', filename: 'a\nb', collections: 'x' })],
    ] as const) {
      const file = await t.docsync.files.create(Readable.from([Buffer.from(label)]), { filename: `${label}.txt` });
      t.docsync.fileRepository.update({ ...file, sync_status: 'conflict', remote_version: 1 });
      t.docsync.db
        .prepare('INSERT INTO conflicts (stable_id, conflict_type, remote_row, detected_at) VALUES (?, ?, ?, ?)')
        .run(file.stable_id, 'modified_both', remoteRow, '2026-01-01T00:00:00.000Z');
    }
    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/sync/conflicts', headers: t.auth });
    expect(listed.statusCode, listed.body).toBe(200);
    const conflicts = listed.json<{ conflicts: Array<{ stable_id: string; remote_hash: string | null; remote_filename: string }> }>().conflicts;
    expect(conflicts).toHaveLength(2);
    for (const conflict of conflicts) {
      expect(conflict).toMatchObject({ remote_hash: null, remote_filename: '' });
      const refused = await t.app.inject({
        method: 'POST',
        url: '/api/v1/sync/resolve-conflict',
        headers: t.auth,
        payload: { file_id: conflict.stable_id, resolution: 'remote_wins' },
      });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json<{ error: string }>().error).toBe('remote_unreadable');
      const resolved = await t.app.inject({
        method: 'POST',
        url: '/api/v1/sync/resolve-conflict',
        headers: t.auth,
        payload: { file_id: conflict.stable_id, resolution: 'local_wins' },
      });
      expect(resolved.statusCode, resolved.body).toBe(200);
      expect(t.docsync.files.get(conflict.stable_id)).toMatchObject({ sync_status: 'modified', remote_version: 1 });
    }
  });
});
