import type { Readable } from 'node:stream';
import type { ReadOptions } from './bounded-read.ts';

export type { ReadOptions };

/**
 * Where instances meet: a WebDAV server, a shared folder, or memory (tests). Each adapter only moves
 * bytes; locking, retries and the metadata format live above it.
 *
 * Paths are relative to the remote root, use `/` and never start with `/` (`version.txt`,
 * `ab/ab12….pdf`, `version.txt.lock/owner.json`); build them with `paths.ts` only. `''` is the root.
 *
 * Errors (see `errors.ts`): absence is never an error — a 404 is `undefined` or `false`, and only a
 * 404 is. A failed precondition is `PreconditionFailedError`. 423, 429, 5xx and resets are
 * `RemoteUnavailableError` (retryable), a missed deadline or a silent body `RemoteTimeoutError`
 * (one of them); bad credentials `RemoteAuthError`; a body over its cap `RemoteCorruptError`; a
 * redirect, and anything else, `RemoteError`. Adapters do not retry: `RetryingRemote` does, in one
 * place. Every read is bounded (`bounded-read.ts`): no call waits on a server for ever, and none
 * holds more than its cap in memory.
 */
export interface Remote {
  /** Where this remote is, safe to show (never a password). */
  readonly description: string;

  /**
   * `true` when a successful `put` means the bytes are stored, whole, and readable at once, so an
   * upload needs no read to confirm it (`remote-blobs.ts`). Measured on every WebDAV server tested
   * (Apache, nginx, rclone, lighttpd, sabre/dav: each writes the file before its 201/204, refuses a
   * body shorter than its Content-Length, and lists the file at its full size right after). Absent:
   * a write is read back before a commit names it (the memory remote models a server that loses
   * acknowledged writes; on a folder the read costs no request).
   */
  readonly putAnswerConfirms?: boolean;

  /** Size and ETag of a file, or `undefined` when it does not exist. */
  stat(path: string): Promise<RemoteStat | undefined>;

  /**
   * Streams a file, or `undefined` when it does not exist. A file larger than `maxBytes` fails
   * (`RemoteCorruptError`) as soon as that shows, never buffered; a stalled body fails with
   * `RemoteUnavailableError` (see `bounded-read.ts`).
   */
  get(path: string, options?: ReadOptions): Promise<Readable | undefined>;

  /**
   * A small file's bytes, or `undefined` when it does not exist; more than `maxBytes` (default
   * `SMALL_FILE_MAX_BYTES`) is a `RemoteCorruptError`.
   */
  getBytes(path: string, options?: ReadOptions): Promise<Buffer | undefined>;

  /**
   * Writes a file whole, replacing any existing one. The size is always known (some servers turn
   * chunked bodies into empty files). With `ifNoneMatch: '*'` the write must fail with
   * `PreconditionFailedError` when the file exists; with `ifMatch` when its ETag differs — on the
   * servers that honour these (see `RemoteCapabilities`). The parent folder must exist.
   */
  put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult>;

  /** Deletes a file, or a folder with everything in it. `false` when it did not exist. */
  delete(path: string, options?: { ifMatch?: string }): Promise<boolean>;

  /** The entries directly inside a folder, or `undefined` when the folder does not exist. */
  list(path: string): Promise<RemoteEntry[] | undefined>;

  /**
   * Creates one folder (its parent must exist). `'created'` only when this very call created it,
   * `'exists'` when it was already there: on servers whose MKCOL is exclusive this is the atomic
   * primitive the lock is built on.
   */
  mkdir(path: string): Promise<'created' | 'exists'>;

  /**
   * The server's clock in ms since the epoch (e.g. from its `Date` header): lock expiry is judged on
   * it, so clock skew between instances cannot make a live lock look stale.
   */
  serverTime(): Promise<number>;
}

export interface RemoteStat {
  size: number;
  /** Quoted, as the server sent it (`"abc"` or `W/"abc"`); absent when the server sends none. */
  etag?: string;
  isDirectory: boolean;
  /** Server time in ms, when known. */
  modifiedAt?: number;
}

export interface RemoteEntry extends RemoteStat {
  /** The entry's name inside the listed folder (no slashes). */
  name: string;
}

/** A body that can be produced again: a retry after a failed upload re-opens it. */
export type PutBody = Buffer | { size: number; open(): Readable };

export interface PutOptions {
  ifMatch?: string;
  ifNoneMatch?: '*';
  contentType?: string;
  /**
   * Asked by `RetryingRemote` before it sends this write again after a retryable failure (whose
   * write may have taken effect): `'done'` ends the retries as a success, an error ends them as that
   * error. Adapters ignore it. The version switch uses it to look before it writes again.
   */
  beforeRetry?: () => Promise<'retry' | 'done'>;
}

export interface PutResult {
  /** The new ETag when the server reports it on the PUT response. */
  etag?: string;
}

export function bodySize(body: PutBody): number {
  return Buffer.isBuffer(body) ? body.length : body.size;
}
