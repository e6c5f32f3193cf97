import type { BigIntStats } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { IdSource } from '../domain/ids.ts';
import { capStream, readCapped, SMALL_FILE_MAX_BYTES, tooLarge } from './bounded-read.ts';
import { ParentMissingError, PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError } from './errors.ts';
import { joinPath, remotePathSegments } from './paths.ts';
import { bodySize, type PutBody, type PutOptions, type PutResult, type ReadOptions, type Remote, type RemoteEntry, type RemoteStat } from './remote.ts';

/** `.<name>.<16 hex>.tmp`: files being written and folders being deleted. Never listed. */
const TEMP_NAME = /^\..*\.[0-9a-f]{16}\.tmp$/;
/** Touched by `serverTime()` in the root so the file server stamps it with its own clock. */
const CLOCK_FILE = '.docsync-clock';
/** Errors a network mount gives while the file server is slow, busy or briefly gone: retryable. */
const UNAVAILABLE_CODES = new Set(['EIO', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'ESTALE', 'EINTR', 'ENOTCONN', 'EHOSTDOWN']);
/** How `link()` says "no hard links on this filesystem" (some SMB and FUSE mounts). */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * A shared folder as the remote (`DOCSYNC_REMOTE=file:///path`): a local disk, or an NFS / SMB mount
 * that several instances see. Every write goes to a hidden temp file beside its target, is fsynced,
 * and then renamed (or hard-linked) into place, so readers see the old file or the new one, whole.
 * Atomic primitives: `mkdir` (exclusive) and `put` with `ifNoneMatch: '*'` (via `link`).
 */
export class FolderRemote implements Remote {
  /** The folder as a `file://` URL. */
  readonly description: string;
  private readonly root: string;

  /** `ids` names temp files: give each instance its own source (or `cryptoIdSource`). */
  constructor(rootDir: string, private readonly ids: IdSource) {
    this.root = path.resolve(rootDir);
    this.description = pathToFileURL(this.root).href;
  }

  async stat(relPath: string): Promise<RemoteStat | undefined> {
    const full = this.resolve(relPath);
    const stats = await orAbsent('stat', relPath, () => fsp.stat(full, { bigint: true }));
    return stats && toRemoteStat(stats);
  }

  async get(relPath: string, options: ReadOptions = {}): Promise<Readable | undefined> {
    const full = this.resolve(relPath);
    // The open handle pins this version of the file: a rename over it does not disturb the reader.
    const handle = await orAbsent('read', relPath, () => fsp.open(full, 'r'));
    if (!handle) return undefined;
    try {
      const stats = await fsCall('read', relPath, () => handle.stat());
      if (stats.isDirectory()) throw new RemoteError(`Cannot read ${relPath || '/'}: it is a folder`, { status: 409 });
      const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
      if (stats.size > max) throw tooLarge(`GET ${relPath}`, max, stats.size);
    } catch (error) {
      await handle.close();
      throw error;
    }
    // 256 KB reads instead of the 64 KB default: a 100 MB read took ~35% less time. Capped also
    // while it streams: the file may grow after the check.
    const stream = translateStreamErrors(handle.createReadStream({ highWaterMark: 256 * 1024 }), relPath);
    return capStream(stream, options.maxBytes, `GET ${relPath}`);
  }

  async getBytes(relPath: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const max = options.maxBytes ?? SMALL_FILE_MAX_BYTES;
    const stream = await this.get(relPath, { maxBytes: max });
    return stream && readCapped(stream, max, `GET ${relPath}`);
  }

  async put(relPath: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    if (relPath === '') throw new RemoteError('Cannot put the remote root: it is a folder', { status: 405 });
    const target = this.resolve(relPath);
    const temp = this.tempPathFor(target);
    try {
      const etag = await this.writeTemp(temp, body, relPath);
      await this.moveIntoPlace(temp, target, relPath, options);
      return { etag };
    } finally {
      // Gone already after a rename; still there after a link or a failure.
      await fsp.rm(temp, { force: true }).catch(() => undefined);
    }
  }

  async delete(relPath: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    if (relPath === '') throw new Error('refusing to delete the remote root');
    const target = this.resolve(relPath);
    const stats = await orAbsent('delete', relPath, () => fsp.lstat(target, { bigint: true }));
    if (!stats) return false;
    // Best effort, like every If-Match here: the file can change between this check and the unlink.
    if (options.ifMatch !== undefined && (stats.isDirectory() || etagOf(stats) !== options.ifMatch)) {
      throw new PreconditionFailedError(relPath);
    }
    if (!stats.isDirectory()) {
      return (await orAbsent('delete', relPath, () => fsp.unlink(target).then(() => true))) ?? false;
    }
    // Renaming the folder away first is atomic: of racing deleters exactly one gets `true`, and
    // nobody ever sees a half-emptied folder (a lock folder without its owner file, say).
    const doomed = this.tempPathFor(target);
    const moved = await orAbsent('delete', relPath, () => fsp.rename(target, doomed).then(() => true));
    if (!moved) return false;
    await fsCall('delete', relPath, () => fsp.rm(doomed, { recursive: true, force: true }));
    return true;
  }

  async list(relPath: string): Promise<RemoteEntry[] | undefined> {
    const dir = this.resolve(relPath);
    const names = await orAbsent('list', relPath, () => fsp.readdir(dir));
    if (!names) return undefined;
    const visible = names.filter((name) => !TEMP_NAME.test(name) && !(relPath === '' && name === CLOCK_FILE));
    const entries = await Promise.all(visible.map(async (name): Promise<RemoteEntry | undefined> => {
      // An entry deleted since readdir is simply no longer there.
      const stats = await orAbsent('list', joinPath(relPath, name), () => fsp.stat(path.join(dir, name), { bigint: true }));
      return stats && { name, ...toRemoteStat(stats) };
    }));
    return entries.filter((entry) => entry !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Non-recursive `mkdir` fails with EEXIST for all but one caller, also on NFS: the lock relies on it. */
  async mkdir(relPath: string): Promise<'created' | 'exists'> {
    const target = this.resolve(relPath);
    // The root itself is created too (the embedded default `./remote`), but only inside an existing
    // parent: a missing mount point is an error, not a new empty remote on the local disk.
    try {
      await fsp.mkdir(target);
      return 'created';
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') {
        const what = relPath === '' ? `the shared folder ${this.root}` : `folder ${relPath}`;
        throw new RemoteError(`Cannot create ${what}: its parent folder does not exist`, { status: 409, cause: error });
      }
      if (code !== 'EEXIST') throw translateFsError(error, 'create folder', relPath);
      // Removed between our mkdir and this look (a lock released at that moment): it existed when
      // we asked, which is the answer, as a WebDAV server's 405 would have been.
      const stats = await fsCall('create folder', relPath, () => fsp.stat(target).catch(ignoreMissing));
      if (stats && !stats.isDirectory()) throw new RemoteError(`Cannot create folder ${relPath}: a file is in the way`, { status: 405 });
      return 'exists';
    }
  }

  /**
   * The clock of the machine that serves the folder: on NFS / SMB the file server stamps the mtime
   * of a write, so writing `.docsync-clock` and reading its mtime back asks that machine for the time.
   * Falls back to this machine's clock when the folder cannot be written.
   */
  async serverTime(): Promise<number> {
    try {
      const handle = await fsp.open(path.join(this.root, CLOCK_FILE), 'w');
      try {
        await handle.write(`${process.pid}\n`);
        await handle.sync();
        return Number((await handle.stat({ bigint: true })).mtimeMs);
      } finally {
        await handle.close();
      }
    } catch {
      return Date.now();
    }
  }

  /** Writes the body into a new temp file, fsyncs it, and returns the ETag it will have in place. */
  private async writeTemp(temp: string, body: PutBody, relPath: string): Promise<string> {
    const handle = await fsp.open(temp, 'wx').catch((error: unknown) => {
      if (errorCode(error) !== 'ENOENT') throw translateFsError(error, 'write', relPath);
      throw new ParentMissingError(relPath, 409, { cause: error });
    });
    try {
      const expected = bodySize(body);
      const written = Buffer.isBuffer(body)
        ? await writeFully(handle, body, relPath)
        : await writeStream(handle, body.open(), expected, relPath);
      if (written !== expected) {
        throw new RemoteError(`Body of ${relPath} has ${written} bytes, not the announced ${expected}`, { status: 400 });
      }
      await fsCall('write', relPath, () => handle.sync());
      // rename() and link() keep inode and mtime, so the temp file's ETag is the target's.
      return etagOf(await fsCall('write', relPath, () => handle.stat({ bigint: true })));
    } finally {
      await handle.close();
    }
  }

  private async moveIntoPlace(temp: string, target: string, relPath: string, options: PutOptions): Promise<void> {
    if (options.ifNoneMatch === '*') return linkExclusive(temp, target, relPath);
    if (options.ifMatch !== undefined) {
      // Best effort: another writer can replace the file between this check and the rename. Only
      // `mkdir` and `ifNoneMatch` are atomic on a folder; the lock is built on those.
      const current = await orAbsent('write', relPath, () => fsp.stat(target, { bigint: true }));
      if (!current || current.isDirectory() || etagOf(current) !== options.ifMatch) throw new PreconditionFailedError(relPath);
    }
    await fsCall('write', relPath, () => fsp.rename(temp, target));
  }

  /** The absolute path of a remote path; refuses anything that could leave the root. */
  private resolve(relPath: string): string {
    const full = path.join(this.root, ...remotePathSegments(relPath));
    const inside = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    if (full !== this.root && !full.startsWith(inside)) throw new Error(`remote path escapes the root: ${relPath}`);
    return full;
  }

  /** A hidden sibling of `target`; the name is cut so that it stays within NAME_MAX (255 bytes). */
  private tempPathFor(target: string): string {
    const name = path.basename(target).slice(0, 64);
    return path.join(path.dirname(target), `.${name}.${this.ids.bytes(8).toString('hex')}.tmp`);
  }
}

/**
 * A filesystem error as a remote error: I/O trouble is retryable, missing rights are
 * `RemoteAuthError`, the rest `RemoteError`. ENOENT is never passed here where it means "absent".
 */
export function translateFsError(error: unknown, action: string, relPath: string): RemoteError {
  const code = errorCode(error);
  const message = `Shared folder: cannot ${action} ${relPath || '/'}: ${error instanceof Error ? error.message : String(error)}`;
  if (code && UNAVAILABLE_CODES.has(code)) return new RemoteUnavailableError(message, { cause: error });
  if (code === 'EACCES' || code === 'EPERM') return new RemoteAuthError(message, 403);
  return new RemoteError(message, { cause: error });
}

/** A strong ETag from size, mtime in ns and inode: a same-second rewrite still gets a new one. */
function etagOf(stats: BigIntStats): string {
  return `"${stats.size.toString(36)}-${stats.mtimeNs.toString(36)}-${stats.ino.toString(36)}"`;
}

function toRemoteStat(stats: BigIntStats): RemoteStat {
  const modifiedAt = Number(stats.mtimeMs);
  if (stats.isDirectory()) return { size: 0, isDirectory: true, modifiedAt };
  return { size: Number(stats.size), etag: etagOf(stats), isDirectory: false, modifiedAt };
}

/** link() creates the name only if it is free, atomically — also on NFS, where O_EXCL once was not. */
async function linkExclusive(temp: string, target: string, relPath: string): Promise<void> {
  try {
    await fsp.link(temp, target);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') throw new PreconditionFailedError(relPath);
    if (code && NO_LINK_CODES.has(code)) {
      throw new RemoteError(`Cannot create ${relPath} exclusively: the shared folder does not support hard links (${code})`, { cause: error });
    }
    throw translateFsError(error, 'write', relPath);
  }
}

async function writeFully(handle: FileHandle, chunk: Buffer, relPath: string): Promise<number> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await fsCall('write', relPath, () => handle.write(chunk, offset))).bytesWritten;
  }
  return chunk.length;
}

/** Copies a body stream into the file; stops reading as soon as it is longer than announced. */
async function writeStream(handle: FileHandle, source: Readable, expected: number, relPath: string): Promise<number> {
  let written = 0;
  for await (const chunk of source) {
    written += await writeFully(handle, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string), relPath);
    if (written > expected) break;
  }
  return written;
}

/** Errors of a read stream, translated like every other filesystem error. */
function translateStreamErrors(source: Readable, relPath: string): Readable {
  const out = new PassThrough();
  source.on('error', (error) => out.destroy(translateFsError(error, 'read', relPath)));
  out.on('close', () => source.destroy());
  return source.pipe(out);
}

/** Runs a filesystem call where ENOENT means "absent" (`undefined`); translates every other error. */
async function orAbsent<T>(action: string, relPath: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw translateFsError(error, action, relPath);
  }
}

/** Runs a filesystem call where every error, ENOENT included, is a failure. */
async function fsCall<T>(action: string, relPath: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateFsError(error, action, relPath);
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function ignoreMissing(error: unknown): undefined {
  if (errorCode(error) === 'ENOENT') return undefined;
  throw error;
}
