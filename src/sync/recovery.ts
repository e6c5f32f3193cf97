import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import { isoUtc, systemClock, type Clock } from '../domain/clock.ts';
import { newLocalFile } from '../domain/file.ts';
import { cryptoIdSource, newStableId, type IdSource } from '../domain/ids.ts';
import { openDocsync, type Docsync } from '../docsync.ts';
import { AppError, LocalStateError } from '../errors.ts';
import { RemoteMetadataStore } from '../remote/remote-metadata.ts';
import type { RemoteSnapshot } from '../remote/remote-snapshot.ts';
import type { Remote } from '../remote/remote.ts';
import { refuseInterruptedRestore } from '../services/interrupted-work.ts';
import { dataPaths, inspectDatabase, prepareDataDir, type DatabaseState } from '../store/data-dir.ts';
import { BlobStore } from '../store/blob-store.ts';
import { openDatabase } from '../store/database.ts';
import { sweepTempFiles } from '../store/temp-sweep.ts';
import { localSyncLockHeldElsewhere } from './local-sync-lock.ts';

/** The collection recovered files are put in, so a person finds them together. */
export const RECOVERED_COLLECTION = 'recovered';

export interface RecoveryReport {
  /** Where the broken database (and its WAL files) went; null when the database was kept. */
  moved_aside: string[];
  /** Why the database was replaced, or `kept` when it was healthy. */
  database: DatabaseState | 'unreadable' | 'kept';
  /** Rows taken over from the remote by the adopting sync; null when no sync ran. */
  adopted: number | null;
  /** Why no adopting sync ran (no remote, empty remote, already adopted). */
  adopt_skipped: string | null;
  /** Local blobs that no row named, now files again (`modified`: the next sync shares them). */
  recovered: number;
  /** Local blobs whose content no longer matches their address: left alone. */
  damaged: number;
  temp_removed: number;
}

export interface RecoveryOptions {
  clock?: Clock;
  ids?: IdSource;
  remote?: Remote;
}

/**
 * Rebuilds the index of a data dir whose database was lost (README.md#the-data-dir): the broken database is moved
 * aside, never deleted; a fresh one adopts the remote's state (a first sync of a new instance); then
 * every local blob that no row — local, or remote tombstone — names becomes a file again. Safe to
 * re-run: a healthy, adopted database is kept and only blobs still unnamed are added.
 */
export async function recoverDataDir(config: Config, options: RecoveryOptions = {}): Promise<RecoveryReport> {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? cryptoIdSource;
  const paths = dataPaths(config.dataDir);
  prepareDataDir(config.dataDir, { create: false });
  // Before anything is moved: a half-restored data dir is finished by its restore, not rebuilt.
  refuseInterruptedRestore(config.dataDir);
  if (localSyncLockHeldElsewhere(config.dataDir)) {
    throw new LocalStateError('sync_running', `A docsync process is syncing ${config.dataDir}: stop it before recovering`);
  }
  const report: RecoveryReport = {
    moved_aside: [],
    database: 'kept',
    adopted: null,
    adopt_skipped: null,
    recovered: 0,
    damaged: 0,
    temp_removed: (await sweepTempFiles(paths.tmp, clock.now())).removed,
  };
  const state = databaseState(paths.database);
  if (state !== 'ok') {
    report.database = state;
    report.moved_aside = moveAside(paths.database, isoUtc(clock.now()));
    openDatabase(paths.database).close();
  }
  const docsync = openDocsync(config, { clock, ids, create: false, ...(options.remote && { remote: options.remote }) });
  try {
    await adoptRemote(docsync, report);
    await recoverBlobs(docsync, paths, report);
  } finally {
    docsync.close();
  }
  return report;
}

/** The database as found: unreadable (corrupt pages, not a database) counts as broken too. */
function databaseState(file: string): DatabaseState | 'unreadable' {
  try {
    const state = inspectDatabase(file);
    if (state === 'ok') openDatabase(file, { verify: true }).close();
    return state;
  } catch (error) {
    if (error instanceof LocalStateError) return 'unreadable';
    throw error;
  }
}

/** `docsync.db` and its WAL side files become `<name>.broken-<time>`; returns the new paths. */
function moveAside(database: string, nowIso: string): string[] {
  const suffix = `.broken-${nowIso.replace(/[:.]/g, '-')}`;
  const moved: string[] = [];
  for (const file of [database, `${database}-wal`, `${database}-shm`]) {
    if (!fs.existsSync(file)) continue;
    fs.renameSync(file, `${file}${suffix}`);
    moved.push(`${file}${suffix}`);
  }
  return moved;
}

/**
 * A first sync, as a new instance does it: the remote's rows come in, their blobs are downloaded
 * only where the local copy is missing. Skipped once this data dir has seen a remote version (a
 * re-run), and when the remote is empty: a recovery never creates a remote repository.
 */
async function adoptRemote(docsync: Docsync, report: RecoveryReport): Promise<void> {
  if (!docsync.remote) {
    report.adopt_skipped = 'no remote is configured';
    return;
  }
  if (docsync.syncState.lastSeenVersion() !== undefined) {
    report.adopt_skipped = 'this data dir has already adopted the remote';
    return;
  }
  const metadata = new RemoteMetadataStore(docsync.remote, dataPaths(docsync.config.dataDir).tmp, docsync.ids);
  if (!(await metadata.readHead())) {
    report.adopt_skipped = 'the remote is empty';
    return;
  }
  const summary = await docsync.sync.sync({});
  report.adopted = summary.downloaded + summary.metadata_synced;
  if (summary.errors > 0) {
    throw new AppError(
      'recovery_incomplete',
      `Adopting the remote's state failed for ${summary.errors} file(s) (${summary.message}); the local blobs are not recovered until the adoption is complete. Run 'docsync recover' again.`,
      502,
      true,
    );
  }
}

/** Every local blob no row names becomes a `modified` file in the `recovered` collection. */
async function recoverBlobs(docsync: Docsync, paths: ReturnType<typeof dataPaths>, report: RecoveryReport): Promise<void> {
  const blobs = new BlobStore(paths.blobs, paths.tmp, docsync.ids);
  const named = docsync.db.prepare<[string, string]>('SELECT 1 FROM files WHERE hash = ? AND file_type = ? LIMIT 1');
  const snapshot = await remoteSnapshot(docsync);
  try {
    for (const { hash, ext, file } of await listBlobs(paths.blobs)) {
      if (named.get(hash, ext) !== undefined) continue;
      // A file deleted on the remote whose blob was still here: it stays deleted.
      if (snapshot?.hasBlob(hash, ext)) continue;
      const verified = await blobs.verify(hash, ext);
      if (!verified) {
        report.damaged++;
        continue;
      }
      const now = isoUtc(docsync.clock.now());
      const row = newLocalFile(
        {
          stable_id: newStableId(docsync.ids),
          hash,
          filename: `recovered-${hash.slice(0, 12)}.${ext}`,
          file_type: ext,
          size: (await fsp.stat(file)).size,
          collections: [RECOVERED_COLLECTION],
        },
        now,
      );
      docsync.fileRepository.insert(row);
      report.recovered++;
    }
  } finally {
    if (snapshot) await snapshot.discard();
  }
}

/** The remote's current snapshot (tombstones included), when there is a remote with a head. */
async function remoteSnapshot(docsync: Docsync): Promise<{ hasBlob: RemoteSnapshot['hasBlob']; discard(): Promise<void> } | undefined> {
  if (!docsync.remote) return undefined;
  const paths = dataPaths(docsync.config.dataDir);
  const metadata = new RemoteMetadataStore(docsync.remote, paths.tmp, docsync.ids);
  const head = await metadata.readHead();
  if (!head) return undefined;
  // The shared state as of now (the data dir's own copy, brought up to date).
  const { state } = await metadata.catchUp(paths.remoteState, head);
  return { hasBlob: (hash, ext) => state.hasBlob(hash, ext), discard: async () => state.close() };
}

async function listBlobs(root: string): Promise<{ hash: string; ext: string; file: string }[]> {
  const found: { hash: string; ext: string; file: string }[] = [];
  for (const shard of (await fsp.readdir(root).catch(() => [])).sort()) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of (await fsp.readdir(path.join(root, shard))).sort()) {
      const match = /^([0-9a-f]{64})\.([a-z0-9]+(?:\.[a-z0-9]+)*)$/.exec(name);
      if (match) found.push({ hash: match[1]!, ext: match[2]!, file: path.join(root, shard, name) });
    }
  }
  return found;
}
