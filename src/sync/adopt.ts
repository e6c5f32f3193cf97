/**
 * A new instance's first sync (docs/design.md#sync: a new instance adopts the remote's state): with no local
 * rows there is nothing to compare, so the shared state is read in id order, page by page (checked,
 * missing blobs downloaded and verified), then copied in by SQL. Memory stays bounded by the page,
 * not by the number of files — at 1M files the general plan would hold every row as an object.
 */
import { isoUtc, type Clock } from '../domain/clock.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import { RemoteTimeoutError } from '../remote/errors.ts';
import { blobKey, type RemoteBlobStore } from '../remote/remote-blobs.ts';
import type { RemoteSnapshot } from '../remote/remote-snapshot.ts';
import { InsufficientStorageError, storageErrorOf } from '../errors.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import type { SyncSummary } from './events.ts';
import { forEachLimited } from './transfers.ts';

/** Rows per page: small enough for memory, large enough that a transaction per page costs nothing. */
export const ADOPT_PAGE = 5000;

export interface AdoptDeps {
  files: SqliteFileRepository;
  blobs: BlobStore;
  remoteBlobs: RemoteBlobStore;
  clock: Clock;
  transferWorkers: number;
  summary: SyncSummary;
  message?: (text: string) => void;
  /**
   * Rows checked (their blobs fetched), then rows copied in: two phases, each counted in rows; the
   * first also in content bytes (here, downloaded or already present) of the live blobs in all.
   */
  progress?: (phase: 'downloading' | 'applying', done: number, total: number, bytes?: number, bytesTotal?: number) => void;
}

/** Whether the first sync can take the page-by-page path: no local row of any kind yet. */
export function canAdoptWhole(files: SqliteFileRepository): boolean {
  return files.totalCount() === 0;
}

/**
 * Adopts every live remote row whose content arrived: first a pass over the state in pages — each
 * row checked (a bad one is left out and reported), each page's missing blobs downloaded and
 * verified — then the rows copied in by SQL (`adoptFrom`). A row whose blob failed stays out (the
 * next sync, a normal one then, pulls it again). Throws on a stalled server or a full disk, before
 * any row is copied.
 */
export async function adoptWhole(state: RemoteSnapshot, deps: AdoptDeps): Promise<void> {
  const { files, summary } = deps;
  const total = state.rowCount();
  const missing: RemoteFileRow[] = [];
  let checked = 0;
  // A blob shared by rows on two pages counts twice (pages are checked one by one, in bounded memory): capped at the total.
  const bytesTotal = state.liveBlobBytes();
  let bytes = 0;
  const report = (done: number) => deps.progress?.('downloading', Math.min(done, total), total, Math.min(bytes, bytesTotal), bytesTotal);
  report(0);
  for (let after = ''; ; ) {
    const { rows, last } = state.livePage(after, ADOPT_PAGE);
    if (last === undefined) break;
    after = last;
    const failed = await downloadMissing(rows, deps, (size) => {
      bytes += size;
      report(checked);
    });
    for (const row of rows) if (failed.has(blobKey(row))) missing.push(row);
    checked += ADOPT_PAGE;
    report(checked);
  }
  report(total);
  const adopted = files.adoptFrom(state.path, {
    skipIds: [...state.rejected.keys()].filter((id): id is string => typeof id === 'string'),
    missingBlobs: missing,
    now: isoUtc(deps.clock.now()),
    progress: (done) => deps.progress?.('applying', Math.min(done, total), total),
  });
  summary.downloaded += adopted;
  summary.local_changed ||= adopted > 0;
}

/** Downloads the page's blobs not here yet; returns the keys that failed. `here` hears each blob's size once it is here (downloaded or already). */
async function downloadMissing(rows: RemoteFileRow[], deps: AdoptDeps, here: (size: number) => void): Promise<Set<string>> {
  const { blobs, summary } = deps;
  const needed = new Map<string, RemoteFileRow>();
  const looked = new Set<string>();
  for (const row of rows) {
    const key = blobKey(row);
    if (looked.has(key)) continue;
    looked.add(key);
    if (!blobs.has(row.hash, row.file_type)) needed.set(key, row);
    else here(row.size);
  }
  const failed = new Set<string>();
  let stop: unknown;
  await forEachLimited([...needed.values()], deps.transferWorkers, async (row) => {
    if (stop) {
      failed.add(blobKey(row));
      return;
    }
    try {
      await deps.remoteBlobs.download(row, blobs);
      summary.bytes_downloaded += row.size;
      here(row.size);
    } catch (error) {
      failed.add(blobKey(row));
      summary.errors++;
      const reason = storageErrorOf(error) ?? (error as Error);
      if (error instanceof RemoteTimeoutError || reason instanceof InsufficientStorageError) stop ??= reason;
      deps.message?.(`Download of ${row.filename} failed: ${reason.message}`);
    }
  });
  if (stop) throw stop;
  return failed;
}
