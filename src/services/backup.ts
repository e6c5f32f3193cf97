import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { Sqlite } from '../store/sqlite.ts';
import { isoUtc, type Clock } from '../domain/clock.ts';
import type { IdSource } from '../domain/ids.ts';
import { AppError, BadFileError, LocalStateError } from '../errors.ts';
import { BlobStore } from '../store/blob-store.ts';
import type { Db } from '../store/database.ts';
import { dataPaths, makeDirs } from '../store/data-dir.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { listTar, openEntry, TarFormatError, TarWriter, type TarEntry } from '../store/tar.ts';
import { VERSION } from '../version.ts';
import {
  BACKUP_TEMP_PREFIX,
  clearRestoreMarker,
  interruptedRestore,
  RESTORE_STAGING_PREFIX,
  sweepInterrupted,
  syncDir,
  workName,
  writeRestoreMarker,
} from './interrupted-work.ts';

/**
 * A backup is one uncompressed tar: `docsync-backup.json` (what it is), the blobs the database
 * names (`blobs/ab/<sha256>.<ext>`, as in a data dir), then `docsync.db` last. `remote-state.db`
 * is left out: a cache the next sync rebuilds from the remote.
 */
export const BACKUP_FORMAT = 'docsync-backup';
const BACKUP_VERSION = 1;
const MANIFEST = 'docsync-backup.json';
const DATABASE = 'docsync.db';
const BLOB_ENTRY = /^blobs\/([0-9a-f]{2})\/([0-9a-f]{64})\.([a-z0-9]+(?:\.[a-z0-9]+)*)$/;
/** Rounds of "copy the database, then the blobs it names" before giving up on a store that keeps changing them. */
const MAX_ROUNDS = 5;

export interface BackupReport {
  file: string;
  files: number;
  blobs: number;
  bytes: number;
  rounds: number;
  /** Blobs a live (or not yet synced) row names that the data dir does not hold: the backup lacks them too. */
  missing: string[];
  /** Temp files of killed backups removed from the backup's folder. */
  swept: string[];
}

/**
 * Takes a consistent backup while the server runs. SQLite's online backup API copies the database
 * as of one moment (all pages in one step, so the server's writes never restart it). Blobs are
 * immutable and appear before the rows that name them, so every blob that copy names was on disk
 * when it was taken — but it may be removed after (content replaced, garbage collected). Then the
 * database is copied again and the blobs the new copy adds are appended, until a copy's blobs are
 * all in the archive; that copy goes in last. Blobs only older copies named are harmless extras.
 */
export interface BackupDeps {
  db: Db;
  dataDir: string;
  clock: Clock;
  instanceId: string;
  /** Test hook: runs after each round's database copy, before its blobs are copied. */
  afterSnapshot?: (round: number) => Promise<void>;
}

export async function createBackup(deps: BackupDeps, file: string): Promise<BackupReport> {
  // Written under hidden temp names beside the file, renamed at the end: a killed backup never
  // leaves a file under the name asked for, and the next backup into that folder removes its temp files.
  const folder = path.dirname(file);
  const swept = await sweepInterrupted(folder, BACKUP_TEMP_PREFIX);
  const unique = `${deps.clock.now()}`;
  const partial = path.join(folder, workName(BACKUP_TEMP_PREFIX, unique, '.tar.partial'));
  const dbCopy = path.join(folder, workName(BACKUP_TEMP_PREFIX, unique, '.db'));
  const writer = await TarWriter.create(partial);
  const blobs = dataPaths(deps.dataDir).blobs;
  const report: BackupReport = { file, files: 0, blobs: 0, bytes: 0, rounds: 0, missing: [], swept };
  try {
    const manifest = { format: BACKUP_FORMAT, version: BACKUP_VERSION, created_at: isoUtc(deps.clock.now()), docsync_version: VERSION, instance_id: deps.instanceId };
    await writer.addBuffer(MANIFEST, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), deps.clock.now());
    const copied = new Set<string>();
    let previousMissing = '';
    for (;;) {
      report.rounds++;
      await snapshotDatabase(deps.db, dbCopy);
      await deps.afterSnapshot?.(report.rounds);
      const named = blobsNamedBy(dbCopy);
      report.files = named.files;
      const missing: string[] = [];
      for (const blob of named.blobs) {
        if (copied.has(blob.entry)) continue;
        try {
          report.bytes += await writer.addFile(blob.entry, path.join(blobs, blob.entry.slice('blobs/'.length)));
          copied.add(blob.entry);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          if (blob.required) missing.push(blob.entry);
        }
      }
      // Done when every needed blob is in; also when the same ones stay missing (a store already
      // broken: the backup says so rather than failing) or the store keeps changing them.
      report.missing = missing;
      const key = missing.join('\n');
      if (missing.length === 0 || key === previousMissing || report.rounds >= MAX_ROUNDS) break;
      previousMissing = key;
    }
    report.blobs = copied.size;
    report.bytes += await writer.addFile(DATABASE, dbCopy);
    await writer.finish();
    await fsp.rename(partial, file);
    await syncDir(folder);
    return report;
  } catch (error) {
    await writer.abort();
    await fsp.rm(partial, { force: true });
    throw error;
  } finally {
    await fsp.rm(dbCopy, { force: true });
  }
}

/** The whole database as of one moment: every page in one backup step. A plain file (no WAL) comes out. */
async function snapshotDatabase(db: Db, target: string): Promise<void> {
  await fsp.rm(target, { force: true });
  await db.backup(target, { progress: () => 0x7fffffff });
  const copy = new Sqlite(target);
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

interface NamedBlob {
  entry: string;
  /** A live row, or one not yet synced (a tombstone that can still be undone), needs it here. */
  required: boolean;
}

/** The blobs a database copy names: its files' (all of them) and its file history's (kept when here). */
function blobsNamedBy(dbFile: string): { files: number; blobs: NamedBlob[] } {
  const db = new Sqlite(dbFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare<[], { hash: string; file_type: string; required: number }>(
        `SELECT hash, file_type, max(required) AS required FROM (
           SELECT hash, file_type, (deleted = 0 OR sync_status != 'synced') AS required FROM files
           UNION ALL SELECT hash, file_type, 0 FROM file_versions WHERE deleted = 0)
         GROUP BY hash, file_type ORDER BY hash, file_type`,
      )
      .all();
    const files = (db.prepare("SELECT count(*) AS n FROM files WHERE deleted = 0").get() as { n: number }).n;
    return { files, blobs: rows.map((r) => ({ entry: `blobs/${r.hash.slice(0, 2)}/${r.hash}.${r.file_type}`, required: r.required === 1 })) };
  } finally {
    db.close();
  }
}

export interface RestoreReport {
  dataDir: string;
  files: number;
  blobs: number;
  /** Blobs whose content did not match their name, left out (only ones no live file needs). */
  damaged: string[];
  /** Files of the data dir moved aside by `--force`. */
  movedAside: string[];
  createdAt: string;
  /** A restore that had been interrupted, finished by this one (then `--force` is not needed). */
  resumed?: { backup: string; started_at: string };
  /** Staging folders of killed restores removed from the data dir. */
  swept: string[];
}

/**
 * Restores a backup into `dataDir`, which must be empty (or missing) unless `force`. Everything is
 * unpacked into a staging folder inside it first and every blob's hash is checked; only when the
 * database is readable and every blob a live file needs is there does it move into place. With
 * `force`, an existing database is moved aside (never deleted) and blobs are merged.
 */
export async function restoreBackup(
  file: string,
  dataDir: string,
  options: { force: boolean; clock: Clock; ids: IdSource },
): Promise<RestoreReport> {
  const entries = await readEntries(file);
  const head = JSON.parse(await readSmall(file, entries[0]!)) as { format?: unknown; version?: unknown; created_at?: string };
  if (head.format !== BACKUP_FORMAT) throw new BadFileError(`${file} is not a docsync backup`);
  if (head.version !== BACKUP_VERSION) throw new BadFileError(`${file} is a backup of format ${String(head.version)}: upgrade docsync`);
  const database = entries.find((e) => e.name === DATABASE);
  if (!database) throw new BadFileError(`${file} holds no ${DATABASE} (an interrupted backup?)`);
  const existing = await fsp.readdir(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    if (error.code === 'ENOTDIR') throw new LocalStateError('data_dir_invalid', `The data dir ${dataDir} is not a folder`);
    throw error;
  });
  const swept = existing.length > 0 ? await sweepInterrupted(dataDir, RESTORE_STAGING_PREFIX) : [];
  // A data dir a restore left half done holds nothing to keep but a database, which is moved aside
  // anyway: finishing the restore needs no --force.
  const resumed = existing.length > 0 ? interruptedRestore(dataDir) : undefined;
  if (existing.length > swept.length && !options.force && !resumed) {
    throw new LocalStateError('data_dir_not_empty', `The data dir ${dataDir} is not empty: restore into a new folder, or pass --force to replace its database (moved aside, not deleted)`);
  }
  makeDirs(dataDir);
  const staging = path.join(dataDir, workName(RESTORE_STAGING_PREFIX, options.ids.bytes(6).toString('hex')));
  const store = new BlobStore(path.join(staging, 'blobs'), path.join(staging, 'tmp'), options.ids);
  const report: RestoreReport = {
    dataDir,
    files: 0,
    blobs: 0,
    damaged: [],
    movedAside: [],
    createdAt: head.created_at ?? '',
    ...(resumed && { resumed }),
    swept,
  };
  try {
    const present = new Set<string>();
    for (const entry of entries.slice(1)) {
      const match = BLOB_ENTRY.exec(entry.name);
      if (entry.name === DATABASE) continue;
      if (!match || match[1] !== match[2]!.slice(0, 2)) throw new BadFileError(`${file}: unexpected entry '${entry.name}'`);
      const staged = await store.stage(openEntry(file, entry));
      if (staged.hash !== match[2]) {
        await store.discard(staged);
        report.damaged.push(entry.name);
        continue;
      }
      await store.commit(staged, match[3]!);
      present.add(entry.name);
    }
    const stagedDb = path.join(staging, DATABASE);
    await fsp.writeFile(stagedDb, openEntry(file, database));
    const named = checkDatabase(stagedDb);
    report.files = named.files;
    report.blobs = present.size;
    const lacking = named.blobs.filter((b) => b.required && !present.has(b.entry)).map((b) => b.entry);
    if (lacking.length > 0) {
      throw new AppError(
        'backup_incomplete',
        `${file} lacks ${lacking.length} blob(s) that live files need, or they are damaged; nothing was restored:\n  ${lacking.join('\n  ')}`,
        422,
      );
    }
    // From here until the database is in, the data dir is neither the old store nor the new one.
    await writeRestoreMarker(dataDir, { backup: file, started_at: isoUtc(options.clock.now()) });
    await moveIntoPlace(staging, dataDir, options.clock, report);
    await clearRestoreMarker(dataDir);
    return report;
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}

async function readEntries(file: string): Promise<TarEntry[]> {
  let entries: TarEntry[];
  try {
    entries = await listTar(file);
  } catch (error) {
    if (error instanceof TarFormatError) throw new BadFileError(`${file}: ${error.message}`);
    throw error;
  }
  if (entries[0]?.name !== MANIFEST || entries[0].size > 64 * 1024) throw new BadFileError(`${file} is not a docsync backup (no ${MANIFEST} first)`);
  return entries;
}

async function readSmall(file: string, entry: TarEntry): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of openEntry(file, entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The restored database must be a docsync database this build can open, with sound pages. */
function checkDatabase(dbFile: string): { files: number; blobs: NamedBlob[] } {
  let db: Database.Database | undefined;
  try {
    db = new Sqlite(dbFile, { readonly: true, fileMustExist: true });
    const check = (db.pragma('quick_check(5)') as { quick_check: string }[]).map((r) => r.quick_check);
    if (check[0] !== 'ok') throw new Error(`quick_check: ${check.join('; ')}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) throw new Error(`written by a newer docsync (schema ${version}); upgrade docsync`);
  } catch (error) {
    throw new BadFileError(`the backup's database cannot be used: ${(error as Error).message}`);
  } finally {
    db?.close();
  }
  return blobsNamedBy(dbFile);
}

async function moveIntoPlace(staging: string, dataDir: string, clock: Clock, report: RestoreReport): Promise<void> {
  const paths = dataPaths(dataDir);
  const stamp = isoUtc(clock.now()).replace(/[:.]/g, '-');
  for (const name of ['docsync.db', 'docsync.db-wal', 'docsync.db-shm']) {
    const current = path.join(dataDir, name);
    if (!fs.existsSync(current)) continue;
    const aside = `${current}.before-restore-${stamp}`;
    await fsp.rename(current, aside);
    report.movedAside.push(aside);
  }
  // A cache of the remote's state at the old database's base: the next sync rebuilds it.
  await fsp.rm(paths.remoteState, { force: true });
  await fsp.mkdir(paths.blobs, { recursive: true });
  for (const shard of await fsp.readdir(path.join(staging, 'blobs'))) {
    await fsp.mkdir(path.join(paths.blobs, shard), { recursive: true });
    for (const name of await fsp.readdir(path.join(staging, 'blobs', shard))) {
      await fsp.rename(path.join(staging, 'blobs', shard, name), path.join(paths.blobs, shard, name));
    }
  }
  // The database last: until it is in place, the data dir has no database a server would open.
  await fsp.rename(path.join(staging, DATABASE), paths.database);
  await syncDir(dataDir);
}
