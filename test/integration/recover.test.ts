import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { openDocsync } from '../../src/docsync.ts';
import { LocalStateError } from '../../src/errors.ts';
import { RECOVERED_COLLECTION, recoverDataDir } from '../../src/sync/recovery.ts';
import { startNode, type Node } from '../support/cluster.ts';
import { tempDir } from '../support/instance.ts';
import { startRemoteTarget, type FreshRemote, type RemoteTarget, type RemoteTargetName } from '../support/remote-targets.ts';
import { webDavKindsForTests } from '../support/webdav-servers.ts';

/** The folder remote, and one real WebDAV server (the first one installed) as the network case. */
const TARGETS: RemoteTargetName[] = ['folder', ...webDavKindsForTests().slice(0, 1)];

function configOf(dataDir: string): Config {
  return loadConfig({ DOCSYNC_DATA_DIR: dataDir, DOCSYNC_REMOTE: 'file:///configured-but-replaced', DOCSYNC_LOG_LEVEL: 'silent' }, {}, dataDir);
}

function loseDatabase(dataDir: string, how: 'missing' | 'empty' | 'garbage'): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(dataDir, `docsync.db${suffix}`), { force: true });
  if (how === 'empty') fs.writeFileSync(path.join(dataDir, 'docsync.db'), '');
  if (how === 'garbage') fs.writeFileSync(path.join(dataDir, 'docsync.db'), 'junk\n');
}

describe.each(TARGETS)('docsync recover with a %s remote', (name) => {
  let target: RemoteTarget;
  let fresh: FreshRemote;
  let a: Node;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());
  afterEach(() => a?.close());

  it('adopts the synced files from the remote with their metadata and brings never-synced blobs back; a second run changes nothing', async () => {
    fresh = target.fresh();
    a = startNode(fresh, 'a', 1);
    const synced = await a.put('thesis.pdf', '%PDF synced', { collections: ['phd'], labels: ['final'] });
    const gone = await a.put('old.txt', 'deleted later');
    await a.sync();
    a.docsync.files.delete(gone.stable_id);
    await a.sync();
    // The deleted file's blob is still here (as after a crash before the local sweep): it must stay deleted.
    fs.mkdirSync(path.join(a.dataDir, 'blobs', gone.hash.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(a.dataDir, 'blobs', gone.hash.slice(0, 2), `${gone.hash}.txt`), 'deleted later');
    const local = await a.put('draft.xml', '<never synced/>');
    a.docsync.close();
    loseDatabase(a.dataDir, 'garbage');

    const config = configOf(a.dataDir);
    expect(() => openDocsync(config, { remote: fresh.connect() })).toThrow(LocalStateError);
    const report = await recoverDataDir(config, { remote: fresh.connect(), ids: seededIdSource(7) });
    expect(report).toMatchObject({ database: 'unreadable', adopted: 1, recovered: 1, damaged: 0 });
    expect(report.moved_aside).toHaveLength(1);
    expect(fs.readFileSync(report.moved_aside[0]!, 'utf8')).toBe('junk\n');
    expect(path.basename(report.moved_aside[0]!)).toMatch(/^docsync\.db\.broken-\d{4}-/);

    a.docsync = openDocsync(config, { remote: fresh.connect() });
    const files = a.live();
    expect(files).toHaveLength(2);
    expect(a.docsync.files.get(synced.stable_id)).toMatchObject({
      filename: 'thesis.pdf', collections: ['phd'], labels: ['final'], hash: synced.hash, sync_status: 'synced',
    });
    const recovered = files.find((f) => f.stable_id !== synced.stable_id)!;
    expect(recovered).toMatchObject({
      filename: `recovered-${local.hash.slice(0, 12)}.xml`,
      file_type: 'xml',
      hash: local.hash,
      collections: [RECOVERED_COLLECTION],
      sync_status: 'modified',
    });
    expect(await a.content(recovered.stable_id)).toBe('<never synced/>');
    expect(await a.content(synced.stable_id)).toBe('%PDF synced');
    a.docsync.close();

    const again = await recoverDataDir(config, { remote: fresh.connect() });
    expect(again).toMatchObject({ database: 'kept', moved_aside: [], adopted: null, recovered: 0 });
    a.docsync = openDocsync(config, { remote: fresh.connect() });
    expect(a.live().map((f) => f.stable_id).sort()).toEqual(files.map((f) => f.stable_id).sort());

    // The next sync shares the recovered file.
    expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    const b = startNode(fresh, 'b', 2);
    try {
      await b.sync();
      expect(await b.contents()).toEqual({ 'thesis.pdf': '%PDF synced', [recovered.filename]: '<never synced/>' });
    } finally {
      b.close();
    }
  });
});

describe('docsync recover without a remote', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => tmp.remove());

  it.each(['missing', 'empty'] as const)('rebuilds from the local blobs alone when the database is %s', async (how) => {
    tmp = tempDir();
    const config = loadConfig({ DOCSYNC_DATA_DIR: tmp.dir, DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent' }, {}, tmp.dir);
    let docsync = openDocsync(config);
    const { Readable } = await import('node:stream');
    const one = await docsync.files.create(Readable.from([Buffer.from('one')]), { filename: 'one.txt' });
    const two = await docsync.files.create(Readable.from([Buffer.from('two')]), { filename: 'two.tei.xml' });
    docsync.close();
    loseDatabase(tmp.dir, how);

    expect(() => openDocsync(config)).toThrow(/holds 2 blob\(s\) but (no database|an empty database file).*docsync recover/);
    const report = await recoverDataDir(config);
    expect(report).toMatchObject({ database: how, adopted: null, adopt_skipped: 'no remote is configured', recovered: 2 });
    docsync = openDocsync(config);
    try {
      const byHash = new Map(docsync.files.list({ limit: 10 }).files.map((f) => [f.hash, f]));
      expect(byHash.get(one.hash)).toMatchObject({ filename: `recovered-${one.hash.slice(0, 12)}.txt`, size: 3 });
      expect(byHash.get(two.hash)).toMatchObject({ filename: `recovered-${two.hash.slice(0, 12)}.tei.xml`, file_type: 'tei.xml' });
    } finally {
      docsync.close();
    }
    expect((await recoverDataDir(config)).recovered).toBe(0);
  });

  it('leaves a blob whose content does not match its address alone', async () => {
    tmp = tempDir();
    const config = loadConfig({ DOCSYNC_DATA_DIR: tmp.dir, DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent' }, {}, tmp.dir);
    const hash = 'ab'.repeat(32);
    fs.mkdirSync(path.join(tmp.dir, 'blobs', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(tmp.dir, 'blobs', 'ab', `${hash}.pdf`), 'not that content');
    expect(await recoverDataDir(config)).toMatchObject({ database: 'missing', recovered: 0, damaged: 1 });
  });
});
