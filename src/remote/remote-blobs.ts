/**
 * `RemoteBlobStore`: the remote's content-addressed blobs, behind a port that knows their layout
 * (`ab/ab12….pdf`, docs/design.md#blobs) so the sync engine never builds a blob path nor creates a folder. The
 * model is litestream's `ReplicaClient` and automerge-repo's `StorageSubsystem`: the caller names a
 * blob by hash and type; folders, shards and how an upload is confirmed are this module's business,
 * so a remote without folders (an object store listed by prefix) needs a new store, not a new engine.
 *
 * Requests, the scarce thing on hosted servers: `readyShards` makes all 256 shard folders once per
 * remote, before its first upload (as restic makes its `data/` folders at `init`), and version.txt
 * says so from then on (`VersionHead.allShards`), so that no later push of any instance pays for a
 * folder: a push into a shard no blob used yet is one PUT, not a refused PUT, a MKCOL and the PUT
 * again. Over a remote's life that costs no more MKCOLs (one per shard either way); its price is
 * that the remote GC lists 256 folders, empty ones included, on each run. A shard folder missing all
 * the same (removed by hand) is created when a PUT says it is
 * missing (measured: 409 from Apache, lighttpd, the folder and memory remotes; 404 from rclone and
 * sabre/dav; nginx creates it by itself), or up front when one listing of the root (for a larger batch)
 * shows it absent. A refused PUT is cheap only while its body is small: the client sends the whole
 * body whatever the server answers (measured on loopback Apache: a 256 MiB PUT into a missing shard
 * took 2.2 s to be refused, as long as the upload itself), so a blob of `SHARD_FIRST_MIN_BYTES` or
 * more into a shard not known to exist gets its MKCOL first: one round trip instead of its size twice. A blob is confirmed by the PUT's own answer where the remote
 * declares that answer reliable (`Remote.putAnswerConfirms`), else by one read per shard touched.
 */
import type { Readable } from 'node:stream';
import { ParentMissingError, RemoteCorruptError, RemoteUnavailableError } from './errors.ts';
import { remotePaths } from './paths.ts';
import type { Remote } from './remote.ts';

/**
 * The remote has no such blob (a 404): collected by the remote GC, or never uploaded. Still a corrupt
 * remote to a sync (a row names it); a restore tells the user that the content is gone.
 */
export class RemoteBlobMissingError extends RemoteCorruptError {}

/** A blob as the store needs it: its address (hash, type) and its exact size. */
export interface BlobRef {
  hash: string;
  file_type: string;
  size: number;
}

/** Where a downloaded blob goes: the local blob store's verifying stage, then its commit. */
export interface BlobSink<Staged> {
  stageVerified(source: Readable, expectedHash: string, maxBytes?: number): Promise<Staged>;
  commit(staged: Staged, ext: string): Promise<void>;
}

/** An upload the PUT acknowledged, waiting for `confirm`. */
export interface Uploaded extends BlobRef {
  /** Whether the PUT's own answer already confirms it (`putAnswerConfirms`). */
  confirmed: boolean;
}

/** One blob `confirm` could not vouch for: it must not be committed. */
export interface Unconfirmed {
  blob: BlobRef;
  /** Why, to show the user: not there, wrong size, or the confirming read failed. */
  reason: string;
  /** The failure of the confirming read, when it failed. */
  error?: unknown;
}

export interface RemoteBlobStoreOptions {
  /** Blobs known to be on the remote without asking (named by a committed row, say). */
  knownElsewhere?: (hash: string, fileType: string) => boolean;
}

/**
 * From this many uploads on, one listing of the root tells which shard folders exist: cheaper than
 * a refused PUT per missing shard (a refused PUT may carry its whole body first).
 */
export const ROOT_LISTING_MIN_UPLOADS = 4;

/** From this size on, an upload into a shard not known to exist creates the shard first (see above). */
export const SHARD_FIRST_MIN_BYTES = 1024 * 1024;

/** Every shard folder name: `00` … `ff`. */
export const ALL_SHARDS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function blobKey(blob: { hash: string; file_type: string }): string {
  return `${blob.hash}.${blob.file_type}`;
}

/** The blobs of one remote, for one sync (its knowledge of shards and blobs lasts that long). */
export class RemoteBlobStore {
  /** Blobs known to be on the remote: confirmed this sync, or told (`remember`). */
  private readonly known = new Set<string>();
  /** Shard folders known to exist (a PUT landed in it, the root listing showed it, a MKCOL made it). */
  private readonly shards = new Set<string>();
  /** MKCOLs under way, shared by the uploads into the same shard. */
  private readonly creating = new Map<string, Promise<unknown>>();
  private rootListing: Promise<void> | undefined;
  /** Whether the root was listed: then a shard not in `shards` is missing. */
  private listed = false;
  /**
   * Every shard folder is taken to exist (version.txt says they were all made, or `createShards`
   * made them): no MKCOL and no listing before a PUT. Taken, not seen: a PUT into one that is missing
   * after all (409/404, or a reset) still makes it and sends the PUT again.
   */
  private allShards = false;

  constructor(
    private readonly remote: Remote,
    private readonly options: RemoteBlobStoreOptions = {},
  ) {}

  /** Whether the blob is known to be on the remote, from what is already known: no request. */
  has(hash: string, fileType: string): boolean {
    return this.known.has(blobKey({ hash, file_type: fileType })) || (this.options.knownElsewhere?.(hash, fileType) ?? false);
  }

  /** Blobs known to be there from elsewhere (an interrupted sync's confirmed uploads). */
  remember(keys: Iterable<string>): void {
    for (const key of keys) this.known.add(key);
  }

  /**
   * Announces a batch of uploads: from `ROOT_LISTING_MIN_UPLOADS` on, the root is listed once and its
   * shard folders are known to exist, so a missing one is created before its first PUT.
   */
  async prepareUploads(count: number): Promise<void> {
    if (count < ROOT_LISTING_MIN_UPLOADS || this.allShards) return;
    this.rootListing ??= this.remote.list('').then((entries) => {
      for (const entry of entries ?? []) if (entry.isDirectory) this.shards.add(entry.name);
      this.listed = true;
    });
    await this.rootListing;
  }

  /**
   * Before the uploads of a push: whether every shard folder exists, for the commit to say so in
   * version.txt. `known` (version.txt says so already): yes, and no request. Otherwise, when there is
   * anything to upload, they are made now (`createShards`: once per remote, the first push with
   * content; later the root listing shows them all). A failure is the caller's: the uploads can go on
   * without (each shard is then made as its PUT finds it missing).
   */
  async readyShards(known: boolean, uploads: number, workers = 4): Promise<boolean> {
    if (known) this.allShards = true;
    else if (uploads > 0) await this.createShards(workers);
    return this.allShards;
  }

  /**
   * Creates every shard folder the root lacks: one listing, then a MKCOL per missing folder,
   * `workers` at a time; returns how many it made. Then every shard is known to exist.
   */
  async createShards(workers = 4): Promise<number> {
    await this.prepareUploads(ROOT_LISTING_MIN_UPLOADS);
    const missing = ALL_SHARDS.filter((shard) => !this.shards.has(shard));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) await this.ensureShard(missing[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(workers, missing.length) }, worker));
    this.allShards = true;
    return missing.length;
  }

  /**
   * Writes one blob (its size is exact: `open` is called again on a retry). Its shard folder is
   * created when known missing, when not known to exist and the blob is large (unless every shard is
   * taken to exist), or when the PUT answers that it is missing (409/404), then the PUT is sent once more.
   */
  async upload(blob: BlobRef, open: () => Readable): Promise<Uploaded> {
    const path = remotePaths.blob(blob.hash, blob.file_type);
    const shard = remotePaths.blobDir(blob.hash);
    const body = { size: blob.size, open };
    // Not seen this sync (taken to exist is not seen: see the reset below).
    const unknown = !this.shards.has(shard);
    const first = unknown && !this.allShards && (this.listed || blob.size >= SHARD_FIRST_MIN_BYTES);
    if (this.creating.has(shard) || first) await this.ensureShard(shard);
    try {
      await this.remote.put(path, body);
    } catch (error) {
      // lighttpd answers a PUT into a missing folder with 409 before it reads the body, and closes
      // the connection: through a proxy in front of it, the client often sees the connection reset
      // under its body instead of the 409. Into a folder not known to exist, a reset is read as
      // that answer (the folder is made, the PUT sent once more).
      const missing = error instanceof ParentMissingError || (unknown && resetWhileSending(error));
      if (!missing) throw error;
      this.shards.delete(shard);
      await this.ensureShard(shard);
      await this.remote.put(path, body);
    }
    this.shards.add(shard);
    const confirmed = this.remote.putAnswerConfirms === true;
    if (confirmed) this.known.add(blobKey(blob));
    return { hash: blob.hash, file_type: blob.file_type, size: blob.size, confirmed };
  }

  /**
   * Makes sure each upload is on the remote, whole, before a commit names it: a server may
   * acknowledge a PUT and lose it. An upload whose PUT answer is reliable needs nothing more;
   * the others cost one read per shard: a PROPFIND of the file itself (Depth 0) for a lone upload,
   * a listing of the shard for several. What cannot be vouched for is returned, never committed.
   */
  async confirm(uploads: Uploaded[], workers = 4): Promise<Unconfirmed[]> {
    const byShard = new Map<string, Uploaded[]>();
    for (const upload of uploads.filter((u) => !u.confirmed)) {
      const shard = remotePaths.blobDir(upload.hash);
      byShard.set(shard, [...(byShard.get(shard) ?? []), upload]);
    }
    const missing: Unconfirmed[] = [];
    const shards = [...byShard];
    const next = async (): Promise<void> => {
      for (let entry = shards.shift(); entry; entry = shards.shift()) missing.push(...(await this.confirmShard(...entry)));
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, shards.length)) }, next));
    return missing;
  }

  private async confirmShard(shard: string, uploads: Uploaded[]): Promise<Unconfirmed[]> {
    let sizes: Map<string, number>;
    try {
      if (uploads.length === 1) {
        const only = uploads[0]!;
        const stat = await this.remote.stat(remotePaths.blob(only.hash, only.file_type));
        sizes = new Map(stat && !stat.isDirectory ? [[blobKey(only), stat.size]] : []);
      } else {
        sizes = new Map((await this.remote.list(shard))?.map((e) => [e.name, e.size]) ?? []);
      }
    } catch (error) {
      // The read failed, not the upload: say so, not "did not arrive". A stall is the caller's to see.
      return uploads.map((blob) => ({ blob, reason: `could not be confirmed (reading ${shard}/ failed: ${(error as Error).message})`, error }));
    }
    const missing: Unconfirmed[] = [];
    for (const upload of uploads) {
      if (sizes.get(blobKey(upload)) === upload.size) this.known.add(blobKey(upload));
      else missing.push({ blob: upload, reason: 'did not arrive on the remote' });
    }
    return missing;
  }

  /**
   * Fetches a blob into the local store, read at most to its stated size (a server sending more
   * never fills the disk) and verified against its hash before it is kept.
   */
  async download<Staged>(blob: BlobRef & { filename?: string }, into: BlobSink<Staged>): Promise<void> {
    const stream = await this.remote.get(remotePaths.blob(blob.hash, blob.file_type), { maxBytes: blob.size });
    if (!stream) throw new RemoteBlobMissingError(`The remote has no content for ${blob.filename ?? blob.hash} (${blob.hash})`);
    await into.commit(await into.stageVerified(stream, blob.hash, blob.size), blob.file_type);
  }

  /** One MKCOL per shard, shared by the uploads that wait for it; a failed one is tried again by the next. */
  private async ensureShard(shard: string): Promise<void> {
    let pending = this.creating.get(shard);
    if (!pending) {
      pending = this.remote.mkdir(shard).finally(() => this.creating.delete(shard));
      this.creating.set(shard, pending);
    }
    await pending;
    this.shards.add(shard);
  }
}

/** The connection was reset or closed under a request that was still sending (no answer read). */
function resetWhileSending(error: unknown): boolean {
  if (!(error instanceof RemoteUnavailableError) || error.remoteStatus !== undefined) return false;
  for (let cause: unknown = error.cause; cause; cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  }
  return false;
}
