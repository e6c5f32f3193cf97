import fsp from 'node:fs/promises';
import path from 'node:path';

/** How long a temp file must have been left untouched before a start takes it for a leftover. */
export const TEMP_SWEEP_GRACE_MS = 10 * 60 * 1000;

/**
 * Upload and download staging (`*.part`), and the remote snapshots and shared states being
 * downloaded or written (`snapshot-*.db`, `state-*.db`) with their SQLite side files.
 */
const LEFTOVER = /^(?:[0-9a-f]+\.part|(?:snapshot|state)-[0-9a-f]+\.db(?:-wal|-shm|-journal)?)$/;

export interface TempSweepReport {
  removed: number;
  kept: number;
  /** Why nothing was looked at, when nothing was. */
  skipped?: string;
}

export interface TempSweepOptions {
  graceMs?: number;
  syncRunningElsewhere?: boolean;
  /** Count what would go; remove nothing (`docsync gc --dry-run`). */
  dryRun?: boolean;
}

/**
 * Removes temp files that killed transfers left in `tmpDir` (swept at start, docs/design.md#local-data-model). A CLI upload
 * or sync may be running on the same data dir while the server starts, so nothing in use is taken:
 * while another process holds the local sync lock nothing is swept at all (its downloads and its
 * snapshot live here), and otherwise only files untouched for `graceMs` go (a transfer in progress
 * writes to its file all the time).
 */
export async function sweepTempFiles(
  tmpDir: string,
  nowMs: number,
  { graceMs = TEMP_SWEEP_GRACE_MS, syncRunningElsewhere = false, dryRun = false }: TempSweepOptions = {},
): Promise<TempSweepReport> {
  if (syncRunningElsewhere) return { removed: 0, kept: 0, skipped: 'a sync of another process is running on this data dir' };
  const report: TempSweepReport = { removed: 0, kept: 0 };
  let names: string[];
  try {
    names = await fsp.readdir(tmpDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw error;
  }
  for (const name of names) {
    if (!LEFTOVER.test(name)) continue;
    const file = path.join(tmpDir, name);
    const stat = await fsp.stat(file).catch(() => undefined);
    if (!stat?.isFile()) continue;
    if (nowMs - stat.mtimeMs < graceMs) {
      report.kept++;
      continue;
    }
    if (!dryRun) await fsp.rm(file, { force: true });
    report.removed++;
  }
  return report;
}
