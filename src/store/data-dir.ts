import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { Sqlite } from './sqlite.ts';
import { LocalStateError } from '../errors.ts';

/** Layout of a data dir: one database, blobs by content address, temp files beside them. */
export function dataPaths(dataDir: string): { database: string; blobs: string; tmp: string; remoteState: string } {
  return {
    database: path.join(dataDir, 'docsync.db'),
    /** This instance's copy of the remote's shared state (a cache: rebuilt from the remote if lost). */
    remoteState: path.join(dataDir, 'remote-state.db'),
    blobs: path.join(dataDir, 'blobs'),
    tmp: path.join(dataDir, 'tmp'),
  };
}

/** What the database file holds, looked at without changing it. */
export type DatabaseState = 'missing' | 'empty' | 'no_schema' | 'ok';

export const RECOVER_HINT =
  "Run 'docsync recover --data-dir <dir>' (with the same remote settings as serve) to rebuild the index from the remote and the local blobs";

/**
 * Makes sure `dataDir` is a usable folder. `create: false` (every CLI command, and `serve` on a data dir that is not the default) refuses
 * a data dir that does not exist rather than making an empty store at a mistyped path.
 */
export function prepareDataDir(dataDir: string, { create }: { create: boolean }): void {
  let stat: fs.Stats | undefined;
  try {
    stat = statOrUndefined(dataDir);
  } catch (error) {
    throw new LocalStateError('data_dir_invalid', `The data dir ${dataDir} cannot be used: ${describeErrno(error)}`, { cause: error });
  }
  if (stat && !stat.isDirectory()) {
    throw new LocalStateError('data_dir_invalid', `The data dir ${dataDir} is not a folder (a file is in the way): fix the path or move the file`);
  }
  if (stat) return;
  if (!create) {
    throw new LocalStateError(
      'data_dir_missing',
      `The data dir ${dataDir} does not exist. Fix the path (--data-dir, DOCSYNC_DATA_DIR or data_dir in the config file), ` +
        `or make a new store there with 'docsync init --data-dir ${dataDir}' (or 'docsync serve --init --data-dir ${dataDir}')`,
    );
  }
  makeDirs(dataDir);
}

/**
 * `mkdir -p` one level at a time. Node's `mkdirSync(…, { recursive: true })` loops forever where
 * `mkdir` answers ENOENT for a path whose parent exists (e.g. anywhere under /proc): it keeps
 * re-creating the parent and retrying. Here each level is tried once, and any error is final.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    const stat = statOrUndefined(current);
    if (stat) {
      if (!stat.isDirectory()) throw cannotCreate(dir, `${current} is not a folder`);
      break;
    }
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statOrUndefined(level)?.isDirectory()) continue;
      throw cannotCreate(dir, describeErrno(error));
    }
  }
}

/** Looks at the database file without creating or migrating it; throws when it is unreadable. */
export function inspectDatabase(file: string): DatabaseState {
  const stat = statOrUndefined(file);
  if (!stat) return 'missing';
  if (stat.size === 0) return 'empty';
  let db: Database.Database | undefined;
  try {
    db = new Sqlite(file, { readonly: true, fileMustExist: true });
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'files'").get() as { n: number };
    return version > 0 && tables.n === 1 ? 'ok' : 'no_schema';
  } catch (error) {
    throw unreadableDatabase(file, error);
  } finally {
    db?.close();
  }
}

/** The error for a database SQLite cannot read (not a database, corrupt pages, I/O errors). */
export function unreadableDatabase(file: string, cause: unknown): LocalStateError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new LocalStateError(
    'database_unreadable',
    `The database ${file} cannot be read (${detail}). docsync will not start on it, nor replace it. ` +
      `${RECOVER_HINT.replace('<dir>', path.dirname(file))} (it moves the broken file aside, never deletes it).`,
    { cause },
  );
}

/** True when at least one blob is stored: then a missing database means lost state, not a new store. */
export function hasBlobs(blobsDir: string): boolean {
  return countBlobs(blobsDir, 1) > 0;
}

/** Counts stored blobs (`<shard>/<sha256>.<ext>`), stopping at `limit`. */
export function countBlobs(blobsDir: string, limit = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (const shard of readdirOrEmpty(blobsDir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of readdirOrEmpty(path.join(blobsDir, shard))) {
      if (/^[0-9a-f]{64}\.[a-z0-9.]+$/.test(name) && ++n >= limit) return n;
    }
  }
  return n;
}

/**
 * Refuses to open a data dir whose database is gone (missing, empty, or without docsync's schema)
 * while blobs are stored: starting empty there would make every never-synced file vanish silently.
 */
export function refuseLostDatabase(dataDir: string): void {
  const paths = dataPaths(dataDir);
  const state = inspectDatabase(paths.database);
  if (state === 'ok' || !hasBlobs(paths.blobs)) return;
  const found = { missing: 'no database', empty: 'an empty database file', no_schema: 'a database without docsync tables' }[state];
  throw new LocalStateError(
    'local_state_lost',
    `The data dir ${dataDir} holds ${countBlobs(paths.blobs)} blob(s) but ${found} (${paths.database}). ` +
      `docsync will not start empty over them. ${RECOVER_HINT.replace('<dir>', dataDir)}.`,
  );
}

function cannotCreate(dir: string, why: string): LocalStateError {
  return new LocalStateError('data_dir_invalid', `Cannot create the data dir ${dir}: ${why}`);
}

function describeErrno(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const meaning: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only filesystem',
    ENOENT: 'this location does not accept new folders',
    ENOTDIR: 'a part of the path is a file',
    ENOSPC: 'the disk is full',
  };
  return (e.code && meaning[e.code]) ?? e.message;
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
