/**
 * The blobs of a commit that may have landed late (docs/design.md#sync, docs/design.md#history-trash-and-garbage-collection). Where the version switch cannot be
 * conditional (a server that ignores If-Match, nginx; or a lock that is not atomic, rclone), a sync
 * that lost its lock right before its switch — a process stopped there, a renewal that failed — still
 * lands it afterwards. Meanwhile the next holder committed without its rows, and its GC judged the
 * blobs that sync had uploaded by the state it knew: named by no row, older than the grace, deleted.
 * The late switch then publishes rows naming blobs that are gone, which no instance can download.
 *
 * Only the author still holds that content, and only it can tell: once its switch is done it reads
 * its lock, and where the lock is no longer its own it looks at every blob the commit names and
 * uploads again, from its local store, what is missing (`restoreCommitBlobs`). A sync killed before
 * that leaves its commit marked (`CommitRecord.checkBlobs`) and the next sync looks.
 *
 * What remains (only without a conditional switch): a GC that judged the blob before the late switch
 * and whose DELETE reaches the server after this look — a window of one request on each side, like
 * the GC's own (it reads its lock before each batch of deletions, not before each DELETE).
 */
import { RemoteUnavailableError } from '../remote/errors.ts';
import { blobKey, RemoteBlobStore, type BlobRef, type Uploaded } from '../remote/remote-blobs.ts';
import type { Remote } from '../remote/remote.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { forEachLimited } from './transfers.ts';

export interface RestoreBlobsDeps {
  remote: Remote;
  blobs: BlobStore;
  transferWorkers: number;
  message?: (text: string) => void;
}

export interface RestoredBlobs {
  /** Missing on the remote, uploaded again. */
  restored: number;
  /** Missing on the remote and no longer in the local store either (edited and released since). */
  unavailable: number;
}

/**
 * Makes sure every blob in `named` is on the remote, whole: one read per shard, then an upload of
 * each missing one this instance still has. Throws when a blob could not be looked at or did not
 * arrive again: the caller keeps the commit marked, and the next sync tries again.
 */
export async function restoreCommitBlobs(deps: RestoreBlobsDeps, named: readonly BlobRef[]): Promise<RestoredBlobs> {
  // A store of its own: what this sync learnt of the remote's blobs before the switch is what may
  // have changed since.
  const store = new RemoteBlobStore(deps.remote);
  const unique = new Map(named.map((blob) => [blobKey(blob), { hash: blob.hash, file_type: blob.file_type, size: blob.size, confirmed: false }]));
  const missing = await store.confirm([...unique.values()], deps.transferWorkers);
  const unreadable = missing.find((m) => m.error !== undefined);
  if (unreadable) throw unreadable.error;
  const here = missing.map((m) => m.blob).filter((blob) => deps.blobs.has(blob.hash, blob.file_type));
  const unavailable = missing.length - here.length;
  if (unavailable > 0) {
    deps.message?.(`${unavailable} blob(s) named by this instance's last commit are missing on the remote and no longer held here`);
  }
  if (here.length === 0) return { restored: 0, unavailable };
  const uploaded: Uploaded[] = [];
  await forEachLimited(here, deps.transferWorkers, async (blob) => {
    uploaded.push(await store.upload(blob, () => deps.blobs.createReadStream(blob.hash, blob.file_type)));
  });
  const lost = await store.confirm(uploaded, deps.transferWorkers);
  if (lost.length > 0) throw lost[0]!.error ?? new RemoteUnavailableError(`${lost.length} blob(s) put back after a late commit ${lost[0]!.reason}`);
  deps.message?.(
    `Put back ${here.length} blob(s) that this instance's commit names: it landed after its lock was lost, and another instance's garbage collection had deleted them`,
  );
  return { restored: here.length, unavailable };
}
