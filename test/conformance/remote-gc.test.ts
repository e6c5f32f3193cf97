import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remotePaths } from '../../src/remote/paths.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { collectRemoteGarbage, type GcInput } from '../../src/sync/remote-gc.ts';
import { remoteTargetNames, ShiftedTimeRemote, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

const HOUR = 3600 * 1000;
const referenced = `ab${'1'.repeat(62)}`;
const unreferenced = `ab${'2'.repeat(62)}`;
const current = { snapshot: remotePaths.snapshotV2(5, 'cur'), deltas: [remotePaths.journal(6, 'd6')] };
const old = { snapshot: remotePaths.snapshotV2(3, 'old'), journal: remotePaths.journal(4, 'd4') };
const unknown = 'ab/notes.txt';

/**
 * Remote GC against every server: real servers stamp modification times themselves, so "old" is
 * made by a client that sees the server's clock two hours later (`ShiftedTimeRemote`), which also
 * shows that ages come from the server's clock and the server's listing.
 */
describe.each(remoteTargetNames())('remote GC on %s', (name) => {
  let target: RemoteTarget;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());

  async function populated(): Promise<Remote> {
    const remote = target.fresh().connect();
    await remote.mkdir('');
    for (const dir of [remotePaths.snapshotsDir, remotePaths.journalDir, 'ab']) await remote.mkdir(dir);
    await remote.put(remotePaths.versionFile, Buffer.from('6\n'));
    for (const path of [current.snapshot, ...current.deltas, old.snapshot, old.journal, unknown]) await remote.put(path, Buffer.from(path));
    await remote.put(remotePaths.blob(referenced, 'pdf'), Buffer.alloc(300, 1));
    await remote.put(remotePaths.blob(unreferenced, 'pdf'), Buffer.alloc(4321, 2));
    return remote;
  }

  const input = (over: Partial<GcInput> = {}): GcInput => ({
    current,
    isReferenced: (hash, ext) => hash === referenced && ext === 'pdf',
    now: Date.now(),
    windowMs: HOUR,
    graceMs: HOUR,
    dryRun: false,
    ...over,
  });

  async function paths(remote: Remote): Promise<string[]> {
    const found: string[] = [];
    for (const dir of ['', remotePaths.snapshotsDir, remotePaths.journalDir, 'ab']) {
      for (const entry of (await remote.list(dir)) ?? []) if (!entry.isDirectory) found.push(dir === '' ? entry.name : `${dir}/${entry.name}`);
    }
    return found.filter((p) => !p.startsWith('.docsync')).sort();
  }

  it('keeps everything younger than the grace and the window, by the server clock', async () => {
    const remote = await populated();
    const before = await paths(remote);
    // A local clock a day ahead must not make fresh uploads look old.
    const report = await collectRemoteGarbage(remote, input({ now: Date.now() + 24 * HOUR }));
    expect(report).toMatchObject({ blobs_deleted: 0, journals_deleted: 0, snapshots_deleted: 0, blobs_kept: 2, errors: 0 });
    expect(await paths(remote)).toEqual(before);
  });

  it('later on the server: a dry run reports, then the GC deletes exactly the unnamed and unreferenced', async () => {
    const remote = await populated();
    const later = new ShiftedTimeRemote(remote, 2 * HOUR);
    const before = await paths(remote);
    const dry = await collectRemoteGarbage(later, input({ dryRun: true }));
    expect(await paths(remote)).toEqual(before);
    const report = await collectRemoteGarbage(later, input());
    expect(report).toEqual({ blobs_deleted: 1, bytes_freed: 4321 + old.snapshot.length + old.journal.length, journals_deleted: 1, snapshots_deleted: 1, blobs_kept: 1, dry_run: false, errors: 0 });
    expect(dry).toEqual({ ...report, dry_run: true });
    const gone = [remotePaths.blob(unreferenced, 'pdf'), old.snapshot, old.journal];
    expect(await paths(remote)).toEqual(before.filter((p) => !gone.includes(p)));
    expect(await paths(remote)).toEqual(
      expect.arrayContaining([remotePaths.versionFile, current.snapshot, ...current.deltas, remotePaths.blob(referenced, 'pdf'), unknown]),
    );
  });
});
