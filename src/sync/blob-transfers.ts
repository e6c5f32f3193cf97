import type { FileRecord } from '../domain/file.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import { InsufficientStorageError, storageErrorOf } from '../errors.ts';
import { RemoteTimeoutError } from '../remote/errors.ts';
import type { Remote } from '../remote/remote.ts';
import { blobKey, type RemoteBlobStore, type Uploaded } from '../remote/remote-blobs.ts';
import type { VersionHead } from '../remote/version-file.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { SyncStateStore } from '../store/sync-state.ts';
import type { SyncListener, SyncSummary } from './events.ts';
import type { SyncProgress } from './sync-progress.ts';
import { forEachLimited } from './transfers.ts';

export interface BlobTransferDeps {
  remote: Remote;
  remoteBlobs: RemoteBlobStore;
  blobs: BlobStore;
  state: SyncStateStore;
  transferWorkers: number;
  listener?: SyncListener | undefined;
  /** The sync's summary: transfers count their bytes and failures into it. */
  summary: SyncSummary;
  progress: SyncProgress;
}

/**
 * The blob transfers of one sync, both ways, a few at a time: downloads verified before they are
 * kept, uploads confirmed before a commit may name them. A failed transfer is counted, said, and
 * retried next sync; a stalled server or a full disk ends the transfers at once.
 */
export class BlobTransfers {
  /**
   * The first transfer that met a stalled server (no answer, or a body gone silent, after the
   * retries): the remaining transfers are skipped and the sync ends with it, rather than wait the
   * stall out once per file. Files are retried next sync.
   */
  private stalled: RemoteTimeoutError | undefined;

  constructor(private readonly deps: BlobTransferDeps) {}

  /**
   * Fetches the blobs pulled rows need into the local store. Resolves with the keys (`blobKey`) of
   * those that failed: their rows are not applied this time. Throws on a stall or a full disk.
   */
  async download(needed: readonly RemoteFileRow[]): Promise<Set<string>> {
    const { blobs, summary, progress } = this.deps;
    const failed = new Set<string>();
    let diskFull: unknown;
    let done = 0;
    let moved = 0;
    const bytesTotal = needed.reduce((sum, row) => sum + row.size, 0);
    progress.report('downloading', 0, needed.length, 0, bytesTotal);
    await forEachLimited(needed, this.deps.transferWorkers, async (row) => {
      // After a stall or a full disk, every further transfer would meet the same: skip them.
      if (this.stalled || diskFull) return;
      try {
        // Exactly the size its row states, verified against its hash before it is kept.
        await this.deps.remoteBlobs.download(row, blobs);
        progress.bytes += row.size;
        moved += row.size;
        summary.bytes_downloaded += row.size;
      } catch (error) {
        this.noteStall(error);
        failed.add(blobKey(row));
        summary.errors++;
        const reason = storageErrorOf(error) ?? (error as Error);
        if (reason instanceof InsufficientStorageError) diskFull ??= error;
        this.deps.listener?.message?.(`Download of ${row.filename} failed: ${reason.message}`);
      }
      progress.report('downloading', ++done, needed.length, moved, bytesTotal);
    });
    // Every further write would fail too: stop here, before applying anything; the next sync
    // (once space is freed) downloads what is still missing.
    if (diskFull) {
      throw new InsufficientStorageError(
        { cause: diskFull },
        `The disk holding the data dir is full: ${failed.size} of ${needed.length} download(s) could not be stored and this sync stopped before applying anything. Free some space and sync again.`,
      );
    }
    this.throwIfStalled();
    return failed;
  }

  /**
   * Uploads the blobs of the pushed rows that the remote does not have: not those a snapshot row
   * names, nor those an interrupted sync already uploaded (see `uploadedEarlier`). Each is confirmed
   * before a commit may name it; a failed one is left out of the commit and retried next sync.
   */
  async upload(pushed: readonly FileRecord[], base: VersionHead | undefined): Promise<{ failed: Set<string>; allShards: boolean }> {
    const { blobs, state, remoteBlobs, summary, progress } = this.deps;
    const where = this.deps.remote.description;
    const wanted = uniqueBlobs(pushed).filter((file) => !remoteBlobs.has(file.hash, file.file_type));
    const earlier = await this.uploadedEarlier(wanted);
    const candidates = wanted.filter((file) => !earlier.has(blobKey(file)));
    const failed = new Set<string>();
    const uploaded: Uploaded[] = [];
    const names = new Map(candidates.map((file) => [blobKey(file), file.filename]));
    const fail = (key: string, message: string, error?: unknown) => {
      this.noteStall(error);
      failed.add(key);
      summary.errors++;
      this.deps.listener?.message?.(message);
    };
    let done = 0;
    let moved = 0;
    const bytesTotal = candidates.reduce((sum, file) => sum + file.size, 0);
    progress.report('uploading', 0, candidates.length, 0, bytesTotal);
    let allShards = false;
    try {
      // Every shard folder, made once per remote and said in version.txt: no push pays for one again.
      allShards = await remoteBlobs.readyShards(base?.allShards === true, candidates.length, this.deps.transferWorkers);
      await remoteBlobs.prepareUploads(candidates.length);
    } catch (error) {
      this.noteStall(error);
      this.throwIfStalled();
      // Only an optimisation failed: shard folders are then found missing by their PUTs.
    }
    await forEachLimited(candidates, this.deps.transferWorkers, async (file) => {
      if (this.stalled) return;
      try {
        const upload = await remoteBlobs.upload(file, () => blobs.createReadStream(file.hash, file.file_type));
        if (upload.confirmed) state.recordUploadedBlob(blobKey(file), where);
        uploaded.push(upload);
        progress.bytes += file.size;
        moved += file.size;
        summary.bytes_uploaded += file.size;
      } catch (error) {
        fail(blobKey(file), `Upload of ${file.filename} failed: ${(error as Error).message}`, error);
      }
      progress.report('uploading', ++done, candidates.length, moved, bytesTotal);
    });
    this.throwIfStalled();
    const unconfirmed = await remoteBlobs.confirm(uploaded, this.deps.transferWorkers);
    for (const { blob, reason, error } of unconfirmed) {
      fail(blobKey(blob), `Upload of ${names.get(blobKey(blob))} ${reason}; retried next sync`, error);
    }
    for (const upload of uploaded) {
      if (!upload.confirmed && !failed.has(blobKey(upload))) state.recordUploadedBlob(blobKey(upload), where);
    }
    this.throwIfStalled();
    return { failed, allShards };
  }

  /**
   * Of the blobs to upload, those an interrupted sync already uploaded to this remote (remembered
   * locally until a commit names them) and still there: one read per shard instead of their bytes
   * again. Read, not believed: the remote may have been emptied since.
   */
  private async uploadedEarlier(wanted: FileRecord[]): Promise<Set<string>> {
    const remembered = new Set(this.deps.state.uploadedBlobs(this.deps.remote.description));
    const earlier = wanted.filter((file) => remembered.has(blobKey(file)));
    if (earlier.length === 0) return new Set();
    const recheck = earlier.map((file) => ({ hash: file.hash, file_type: file.file_type, size: file.size, confirmed: false }));
    const gone = await this.deps.remoteBlobs.confirm(recheck, this.deps.transferWorkers);
    for (const { error } of gone) this.noteStall(error);
    this.throwIfStalled();
    const goneKeys = new Set(gone.map(({ blob }) => blobKey(blob)));
    return new Set(earlier.map(blobKey).filter((key) => !goneKeys.has(key)));
  }

  private noteStall(error: unknown): void {
    if (error instanceof RemoteTimeoutError) this.stalled ??= error;
  }

  private throwIfStalled(): void {
    if (this.stalled) throw this.stalled;
  }
}

/** Each blob once (several rows may hold the same content). */
export function uniqueBlobs<T extends { hash: string; file_type: string }>(rows: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const row of rows) if (!seen.has(blobKey(row))) seen.set(blobKey(row), row);
  return [...seen.values()];
}
