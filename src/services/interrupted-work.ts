import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalStateError } from '../errors.ts';

/**
 * What a killed `backup` or `restore-backup` leaves behind, and how the next run deals with it.
 * Work in progress lives under hidden names that carry the process id and the host
 * (`.docsync-backup-<pid>-<host>-…` beside the backup file, `.restore-<pid>-<host>-…` in the data
 * dir): a later run on the same host removes those whose process is gone, and never one whose
 * process still runs (a backup taken at the same moment) nor one of another host or container
 * writing to a shared folder, whose process ids mean nothing here.
 */
export const BACKUP_TEMP_PREFIX = '.docsync-backup-';
export const RESTORE_STAGING_PREFIX = '.restore-';

const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/** A name for work of this process: `<prefix><pid>-<host>-<unique><suffix>`. */
export function workName(prefix: string, unique: string, suffix = ''): string {
  return `${prefix}${process.pid}-${HOST}-${unique}${suffix}`;
}

/** Removes the entries of `dir` named `<prefix><pid>-<host>-…` of this host whose process no longer runs; returns their names. */
export async function sweepInterrupted(dir: string, prefix: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const swept: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-([0-9a-f]{8})-/.exec(name.slice(prefix.length));
    if (!match || match[2] !== HOST || processRuns(Number(match[1]))) continue;
    await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    swept.push(name);
  }
  return swept;
}

/** Whether a process with this id runs (on this machine). Unsure counts as yes: nothing is removed then. */
function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Written into the data dir before a restore starts moving files into place, removed once the
 * database is in: while it is there the data dir is half restored, and docsync refuses to open it
 * (`refuseInterruptedRestore`) rather than start on a store that looks whole but is not.
 */
export const RESTORE_MARKER = 'restore-in-progress.json';

export interface RestoreMarker {
  backup: string;
  started_at: string;
}

export async function writeRestoreMarker(dataDir: string, marker: RestoreMarker): Promise<void> {
  const file = path.join(dataDir, RESTORE_MARKER);
  const handle = await fsp.open(file, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(marker, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDir(dataDir);
}

export async function clearRestoreMarker(dataDir: string): Promise<void> {
  await fsp.rm(path.join(dataDir, RESTORE_MARKER), { force: true });
  await syncDir(dataDir);
}

/** The marker of a restore that never finished, if there is one. */
export function interruptedRestore(dataDir: string): RestoreMarker | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, RESTORE_MARKER), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<RestoreMarker>;
    return { backup: String(parsed.backup ?? 'the backup'), started_at: String(parsed.started_at ?? 'an unknown time') };
  } catch {
    // Cut short while it was written: still a restore that did not finish.
    return { backup: 'the backup', started_at: 'an unknown time' };
  }
}

/** Makes a rename or removal in `dir` durable (the entry itself, not only the file's content). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Refuses a data dir a restore left half done: the person finishes the restore first. */
export function refuseInterruptedRestore(dataDir: string): void {
  const marker = interruptedRestore(dataDir);
  if (!marker) return;
  throw new LocalStateError(
    'restore_incomplete',
    `A restore of ${marker.backup} into ${dataDir} (started ${marker.started_at}) did not finish: the data dir is half restored ` +
      `and docsync will not open it. Run 'docsync restore-backup ${marker.backup} --data-dir ${dataDir}' again to finish it ` +
      `(a database it replaced is kept beside it as docsync.db.before-restore-…).`,
  );
}
