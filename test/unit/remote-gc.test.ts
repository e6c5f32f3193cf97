import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import { RemoteTimeoutError } from '../../src/remote/errors.ts';
import { LockLostError } from '../../src/remote/lock.ts';
import { FolderRemote } from '../../src/remote/folder-remote.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { isBlobShard, parseBlobName, parseJournalName, parentPath, parseSnapshotV2Name, remotePaths } from '../../src/remote/paths.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { collectRemoteGarbage, MAX_ERRORS_IN_A_ROW, type GcInput } from '../../src/sync/remote-gc.ts';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const hashOf = (prefix: string, n: number) => `${prefix}${String(n).padStart(62, '0')}`;

/** A remote whose files can be given any age on the server's clock. */
interface AgedRemote {
  remote: Remote;
  /** Writes a file that the server dates `ageMs` before its "now". */
  write(path: string, ageMs: number, bytes?: number): Promise<void>;
  /** Every file path on the remote. */
  files(): string[];
}

function memoryAged(): AgedRemote {
  const serverNow = Date.parse('2026-06-01T00:00:00Z');
  const clock = new ManualClock(serverNow);
  const remote = new MemoryRemote({ clock });
  return {
    remote,
    async write(p, ageMs, bytes = 10) {
      clock.set(serverNow - ageMs);
      await mkdirs(remote, parentPath(p));
      await remote.put(p, Buffer.alloc(bytes, 1));
      clock.set(serverNow);
    },
    files: () => [...remote.snapshot().keys()],
  };
}

function folderAged(root: string): AgedRemote {
  const remote = new FolderRemote(root, cryptoIdSource);
  return {
    remote,
    async write(p, ageMs, bytes = 10) {
      await mkdirs(remote, parentPath(p));
      await remote.put(p, Buffer.alloc(bytes, 1));
      // The folder's server clock is this machine's: back-date the file on it.
      const at = new Date(Date.now() - ageMs);
      fs.utimesSync(path.join(root, p), at, at);
    },
    files: () => listFiles(root).filter((f) => !f.startsWith('.docsync-clock')),
  };
}

async function mkdirs(remote: Remote, dir: string): Promise<void> {
  if (dir === '') return;
  await mkdirs(remote, parentPath(dir));
  await remote.mkdir(dir);
}

function listFiles(root: string, dir = ''): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    return e.isDirectory() ? listFiles(root, rel) : [rel];
  }).sort();
}

const referenced = hashOf('ab', 1);
const unreferenced = hashOf('ab', 2);
const young = hashOf('cd', 3);
const current = {
  snapshot: remotePaths.snapshotV2(40, 'e'),
  deltas: [remotePaths.journal(41, 'f'), remotePaths.journal(42, 'g')],
};

/**
 * A remote after a format-1 → format-2 migration, 30-day window: the base is snapshot 30 (the newest
 * older than the window), so older snapshots and the journals up to it go; the rest stays.
 */
async function populate(t: AgedRemote): Promise<void> {
  await t.remote.put(remotePaths.versionFile, Buffer.from('42\n'));
  await mkdirs(t.remote, remotePaths.lockDir);
  await t.write(remotePaths.lockOwner, 90 * DAY);
  await t.write(remotePaths.snapshot(10, 'a'), 60 * DAY); // format 1, before the base: deleted
  await t.write('metadata/notes.txt', 60 * DAY); // not a name docsync writes: left alone
  await t.write(remotePaths.snapshotV2(20, 'b'), 50 * DAY); // before the base: deleted
  await t.write(remotePaths.journal(25, 'x'), 45 * DAY); // before the base: deleted
  await t.write(remotePaths.snapshotV2(30, 'c'), 40 * DAY); // the base: kept
  await t.write(remotePaths.journal(30, 'c'), 40 * DAY); // folded into the base: deleted
  await t.write(remotePaths.journal(31, 'd'), 35 * DAY); // leads from the base into the window: kept
  await t.write(remotePaths.snapshotV2(45, 'orphan'), 40 * DAY); // newer than the current one: kept
  await t.write(current.snapshot, 10 * DAY);
  await t.write(current.deltas[0]!, 40 * DAY); // old, but named by version.txt: kept
  await t.write(current.deltas[1]!, HOUR);
  await t.write(remotePaths.blob(referenced, 'pdf'), 60 * DAY, 100);
  await t.write(remotePaths.blob(unreferenced, 'pdf'), 2 * DAY, 1234);
  await t.write(remotePaths.blob(referenced, 'txt'), 2 * DAY, 50); // same hash, other type: not named
  await t.write(remotePaths.blob(young, 'pdf'), HOUR, 77); // an upload of a sync in flight: kept
  await t.write('ab/readme.txt', 60 * DAY); // unknown names are never deleted
  await t.write(`ab/${hashOf('cd', 9)}.pdf`, 60 * DAY); // a blob in the wrong shard: left alone
  await t.write(`zz/${hashOf('ee', 5)}.pdf`, 60 * DAY); // not a shard folder: never looked into
}

const input = (over: Partial<GcInput> = {}): GcInput => ({
  current,
  isReferenced: (hash, ext) => hash === referenced && ext === 'pdf',
  now: Date.now(),
  windowMs: 30 * DAY,
  graceMs: DAY,
  dryRun: false,
  ...over,
});

const expectedGone = [
  remotePaths.snapshot(10, 'a'),
  remotePaths.snapshotV2(20, 'b'),
  remotePaths.journal(25, 'x'),
  remotePaths.journal(30, 'c'),
  remotePaths.blob(unreferenced, 'pdf'),
  remotePaths.blob(referenced, 'txt'),
];

describe.each(['memory', 'folder'] as const)('collectRemoteGarbage on the %s remote', (kind) => {
  let dir: string;
  let t: AgedRemote;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-gc-'));
    t = kind === 'memory' ? memoryAged() : folderAged(dir);
    await populate(t);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('deletes what fell out of the window and unnamed old blobs; keeps everything else', async () => {
    const before = t.files();
    const logged: string[] = [];
    const report = await collectRemoteGarbage(t.remote, input(), (m) => logged.push(m));
    expect(report).toEqual({
      blobs_deleted: 2,
      bytes_freed: 1234 + 50 + 4 * 10, // two blobs, two snapshots and two journals of 10 bytes
      journals_deleted: 2,
      snapshots_deleted: 2,
      blobs_kept: 2,
      dry_run: false,
      errors: 0,
    });
    expect(t.files()).toEqual(before.filter((f) => !expectedGone.includes(f)));
    expect(logged.join('\n')).toMatch(/left alone an unknown entry ab\/readme\.txt/);
    expect(logged.join('\n')).toMatch(/left alone an unknown entry metadata\/notes\.txt/);
  });

  it('asks whether its lock is still held before each batch of deletions, and stops (deleting nothing more) once it is not', async () => {
    // A GC frozen mid-run (laptop asleep) whose lock was taken over meanwhile: the new holder may
    // have committed rows naming blobs this GC found unreferenced (found by the simulation).
    const before = t.files();
    let asked = 0;
    const error = await collectRemoteGarbage(t.remote, input({ stillHolding: async () => (asked++, false) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect(asked).toBe(1);
    expect(t.files()).toEqual(before);
    // Held throughout: one question for the metadata files and one per shard with something to delete.
    asked = 0;
    const report = await collectRemoteGarbage(t.remote, input({ stillHolding: async () => (asked++, true) }));
    expect(report).toMatchObject({ blobs_deleted: 2, journals_deleted: 2, snapshots_deleted: 2 });
    expect(asked).toBe(2);
  });

  it('a dry run reports the same figures and deletes nothing', async () => {
    const before = t.files();
    const dry = await collectRemoteGarbage(t.remote, input({ dryRun: true }));
    expect(t.files()).toEqual(before);
    const real = await collectRemoteGarbage(t.remote, input());
    expect(dry).toEqual({ ...real, dry_run: true });
  });

  it('judges ages by the server clock: a local clock days ahead changes nothing', async () => {
    const report = await collectRemoteGarbage(t.remote, input({ now: Date.now() + 20 * DAY, dryRun: true }));
    expect(report).toMatchObject({ blobs_deleted: 2, blobs_kept: 2, journals_deleted: 2, snapshots_deleted: 2 });
  });

  it('with a zero window keeps only what version.txt names (and newer orphans)', async () => {
    const report = await collectRemoteGarbage(t.remote, input({ windowMs: 0, graceMs: 0 }));
    expect(report).toMatchObject({ snapshots_deleted: 3, journals_deleted: 3, blobs_deleted: 3, blobs_kept: 1 });
    const left = t.files();
    for (const kept of [current.snapshot, ...current.deltas, remotePaths.snapshotV2(45, 'orphan'), remotePaths.versionFile, remotePaths.lockOwner]) {
      expect(left).toContain(kept);
    }
    expect(left).not.toContain(remotePaths.snapshotV2(30, 'c'));
    expect(left).not.toContain(remotePaths.journal(31, 'd'));
  });
});

describe('format-2 names', () => {
  it('build and parse snapshots and journals, sorting by version', () => {
    expect(remotePaths.snapshotV2(40, 'k3j2')).toBe('snapshots/000040-k3j2.db');
    expect(remotePaths.journal(41, 'a_b-c')).toBe('journal/000041-a_b-c.json');
    expect(remotePaths.journal(1234567, 'x')).toBe('journal/1234567-x.json');
    expect(parseSnapshotV2Name('snapshots/000040-k3j2.db')).toEqual({ version: 40, commit: 'k3j2' });
    expect(parseSnapshotV2Name('000040-k3j2.db')).toEqual({ version: 40, commit: 'k3j2' });
    expect(parseJournalName('journal/000041-a_b-c.json')).toEqual({ version: 41, commit: 'a_b-c' });
    for (const bad of ['metadata/000040-k.db', '40-k.db', '000040-k.json', 'snapshots/000040-k.db.tmp', '000040-../x.db']) {
      expect(parseSnapshotV2Name(bad)).toBeUndefined();
    }
    for (const bad of ['snapshots/000041-k.json', '000041-k.db', '000041-.json', 'journal/x.json']) expect(parseJournalName(bad)).toBeUndefined();
    expect(() => remotePaths.journal(1, '../x')).toThrow();
    expect(() => remotePaths.snapshotV2(-1, 'x')).toThrow();
  });

  it('parse blob names strictly', () => {
    const hash = 'ab'.padEnd(64, '0');
    expect(parseBlobName(`${hash}.pdf`)).toEqual({ hash, ext: 'pdf' });
    expect(parseBlobName(`${hash}.tar.gz`)).toEqual({ hash, ext: 'tar.gz' });
    for (const bad of [`${hash}`, `${hash}.`, `${hash}.PDF`, `${hash.slice(1)}.pdf`, `${hash.toUpperCase()}.pdf`, 'readme.txt']) {
      expect(parseBlobName(bad)).toBeUndefined();
    }
    expect(isBlobShard('ab')).toBe(true);
    expect(['AB', 'abc', 'g0', 'journal'].some(isBlobShard)).toBe(false);
  });
});

describe('collectRemoteGarbage and what version.txt names', () => {
  it('never deletes a file current names, even one the version rules would take', async () => {
    const t = memoryAged();
    await populate(t);
    const named = remotePaths.journal(30, 'c'); // at or before the base: would go
    const report = await collectRemoteGarbage(t.remote, input({ current: { snapshot: current.snapshot, deltas: [named] } }));
    expect(report.journals_deleted).toBe(1);
    expect(t.files()).toContain(named);
  });

  it('keeps an unnamed compaction of the current version (a switch that may land late names it) and takes no base from it', async () => {
    // The head is a compaction, snapshot 40 alone (old by now). Another instance froze right before
    // switching to its own compaction 40 (snapshot and delta uploaded, old too). Taken as the base,
    // its snapshot made every journal up to 40 "folded in", its own delta too.
    const t = memoryAged();
    await populate(t);
    const frozen = { snapshot: remotePaths.snapshotV2(40, 'frozen'), delta: remotePaths.journal(40, 'frozen') };
    await t.write(current.snapshot, 35 * DAY);
    await t.write(frozen.snapshot, 34 * DAY);
    await t.write(frozen.delta, 34 * DAY);
    const report = await collectRemoteGarbage(t.remote, input({ current: { snapshot: current.snapshot, deltas: [] } }));
    const left = t.files();
    expect(left).toEqual(expect.arrayContaining([frozen.snapshot, frozen.delta, current.snapshot]));
    // Before the base (40) and older than the window: these go, as before.
    for (const gone of [remotePaths.snapshotV2(30, 'c'), remotePaths.journal(31, 'd')]) expect(left).not.toContain(gone);
    expect(report).toMatchObject({ snapshots_deleted: 3, journals_deleted: 3 });
  });

  it('refuses a current snapshot path it cannot read a version from', async () => {
    const t = memoryAged();
    await expect(collectRemoteGarbage(t.remote, input({ current: { snapshot: 'version.txt', deltas: [] } }))).rejects.toThrow(/not a snapshot path/);
  });
});

describe('collectRemoteGarbage when the server fails', () => {
  it('counts failed deletions and goes on', async () => {
    const t = memoryAged();
    await populate(t);
    const remote = t.remote as MemoryRemote;
    remote.faults.inject({ op: 'delete', path: remotePaths.blob(unreferenced, 'pdf'), effect: { kind: 'error', status: 423 } });
    const report = await collectRemoteGarbage(remote, input());
    expect(report).toMatchObject({ errors: 1, blobs_deleted: 1, snapshots_deleted: 2, journals_deleted: 2 });
    expect(t.files()).toContain(remotePaths.blob(unreferenced, 'pdf'));
  });

  it('stops at a stalled server, and after too many failures in a row', async () => {
    const t = memoryAged();
    await populate(t);
    const remote = t.remote as MemoryRemote;
    const stalled: Remote = Object.assign(Object.create(remote) as MemoryRemote, {
      delete: async () => {
        throw new RemoteTimeoutError('Injected: no answer');
      },
    });
    await expect(collectRemoteGarbage(stalled, input())).rejects.toBeInstanceOf(RemoteTimeoutError);
    expect(t.files()).toContain(remotePaths.snapshot(10, 'a'));

    // A few failures are counted...
    remote.faults.inject({ op: 'delete', times: Infinity, effect: { kind: 'error', status: 503 } });
    expect(await collectRemoteGarbage(remote, input())).toMatchObject({ errors: 6, blobs_deleted: 0, snapshots_deleted: 0 });
    // ...but a server that fails every request is not asked a thousand times.
    for (let n = 10; n < 10 + MAX_ERRORS_IN_A_ROW + 5; n++) await t.write(remotePaths.blob(hashOf('ef', n), 'bin'), 2 * DAY);
    const logged: string[] = [];
    await expect(collectRemoteGarbage(remote, input(), (m) => logged.push(m))).rejects.toThrow(/Injected 503/);
    // Stopped at the tenth failure in a row; deletions of other shards already on their way may add one each.
    const failures = logged.filter((m) => m.includes('could not delete')).length;
    expect(failures).toBeGreaterThanOrEqual(MAX_ERRORS_IN_A_ROW);
    expect(failures).toBeLessThan(MAX_ERRORS_IN_A_ROW + 4);
    expect(failures).toBeLessThan(6 + 15);
  });
});
