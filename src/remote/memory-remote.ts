import { Readable } from 'node:stream';
import { systemClock, type Clock } from '../domain/clock.ts';
import { SMALL_FILE_MAX_BYTES, tooLarge } from './bounded-read.ts';
import { ParentMissingError, PreconditionFailedError, RemoteError } from './errors.ts';
import { FaultInjector, faultError, REMOTE_OPERATIONS, type FaultEffect, type RemoteOperation } from './faults.ts';
import { parentPath, remotePathSegments } from './paths.ts';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from './remote.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';

export interface MemoryRemoteOptions {
  /** Server time: `serverTime()` and every `modifiedAt`. */
  clock?: Clock;
  /** What `delay` faults await; tests inject one that only records. */
  sleep?: Sleep;
  description?: string;
}

interface StoredFile {
  data: Buffer;
  etag: string;
  modifiedAt: number;
}

/** Streams hand out copies in chunks of this size, like a socket would. */
const CHUNK_BYTES = 64 * 1024;

/**
 * A remote held in memory, for tests and the multi-instance simulation. Behaves like the best real
 * server: strong ETags that change on every write, exclusive MKCOL, and conditional writes that are
 * checked and applied atomically. `faults` makes it behave like the worse ones on demand.
 */
export class MemoryRemote implements Remote {
  readonly description: string;
  /** Rules that make the next matching calls fail, stall, lose data or come back short. */
  readonly faults = new FaultInjector();
  /** Calls per operation, failed and faulted ones included. */
  readonly requests: Record<RemoteOperation, number>;

  private readonly files = new Map<string, StoredFile>();
  /** Folder path -> modifiedAt. The root (`''`) always exists. */
  private readonly folders = new Map<string, number>();
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private etagCounter = 0;

  constructor(options: MemoryRemoteOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? realSleep;
    this.description = options.description ?? 'memory://';
    this.requests = Object.fromEntries(REMOTE_OPERATIONS.map((op) => [op, 0])) as Record<RemoteOperation, number>;
    this.folders.set('', this.clock.now());
  }

  /** All calls so far. */
  get requestCount(): number {
    return Object.values(this.requests).reduce((sum, n) => sum + n, 0);
  }

  resetCounts(): void {
    for (const op of REMOTE_OPERATIONS) this.requests[op] = 0;
  }

  /** A copy of every file, by path in sorted order: mutate it freely. */
  snapshot(): Map<string, Buffer> {
    const paths = [...this.files.keys()].sort();
    return new Map(paths.map((path) => [path, Buffer.from(this.files.get(path)!.data)]));
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    const effect = await this.enter('stat', path);
    return this.leave(effect, 'stat', path, this.statOf(path));
  }

  async get(path: string, options: ReadOptions = {}): Promise<Readable | undefined> {
    const effect = await this.enter('get', path);
    const file = this.readable(path, options.maxBytes);
    if (!file && effect?.kind === 'reset') throw faultError(effect, 'get', path)!;
    if (!file) return this.leave(effect, 'get', path, undefined);
    const half = file.data.subarray(0, Math.floor(file.data.length / 2));
    if (effect?.kind === 'truncate') return streamOf(half);
    if (effect?.kind === 'reset') return streamOf(half, faultError(effect, 'get', path));
    return this.leave(effect, 'get', path, streamOf(file.data));
  }

  async getBytes(path: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const effect = await this.enter('getBytes', path);
    const file = this.readable(path, options.maxBytes ?? SMALL_FILE_MAX_BYTES);
    const data = file?.data;
    options.onEtag?.(file?.etag);
    if (!data) return this.leave(effect, 'getBytes', path, undefined);
    const end = effect?.kind === 'truncate' ? Math.floor(data.length / 2) : data.length;
    return this.leave(effect, 'getBytes', path, Buffer.from(data.subarray(0, end)));
  }

  async put(path: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const effect = await this.enter('put', path);
    const data = await readBody(body, path);
    // From here on nothing awaits: the checks and the write are one atomic step.
    if (path === '' || this.folders.has(path)) throw new RemoteError(`Cannot put ${path || '/'}: it is a folder`, { status: 405 });
    this.requireParent(path);
    const current = this.files.get(path);
    if (options.ifNoneMatch === '*' && current) throw new PreconditionFailedError(path);
    if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) throw new PreconditionFailedError(path);
    const etag = this.nextEtag();
    if (effect?.kind !== 'lostWrite') this.files.set(path, { data, etag, modifiedAt: this.clock.now() });
    return this.leave(effect, 'put', path, { etag });
  }

  async delete(path: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    if (path === '') throw new Error('refusing to delete the remote root');
    const effect = await this.enter('delete', path);
    const file = this.files.get(path);
    const isFolder = this.folders.has(path);
    // Absent is `false` even with `ifMatch` (the contract's "false when it did not exist").
    if (!file && !isFolder) return this.leave(effect, 'delete', path, false);
    // A folder has no ETag, so no If-Match can match it.
    if (options.ifMatch !== undefined && file?.etag !== options.ifMatch) throw new PreconditionFailedError(path);
    this.files.delete(path);
    if (isFolder) this.removeFolder(path);
    return this.leave(effect, 'delete', path, true);
  }

  async list(path: string): Promise<RemoteEntry[] | undefined> {
    const effect = await this.enter('list', path);
    if (this.files.has(path)) throw new RemoteError(`Cannot list ${path}: it is a file`, { status: 409 });
    if (!this.folders.has(path)) return this.leave(effect, 'list', path, undefined);
    const entries: RemoteEntry[] = [];
    for (const child of [...this.folders.keys(), ...this.files.keys()]) {
      if (child !== '' && parentPath(child) === path) entries.push({ name: baseName(child), ...this.statOf(child)! });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.leave(effect, 'list', path, entries);
  }

  async mkdir(path: string): Promise<'created' | 'exists'> {
    const effect = await this.enter('mkdir', path);
    if (this.files.has(path)) throw new RemoteError(`Cannot create folder ${path}: a file is in the way`, { status: 405 });
    if (this.folders.has(path)) return this.leave(effect, 'mkdir', path, 'exists');
    this.requireParent(path);
    this.folders.set(path, this.clock.now());
    return this.leave(effect, 'mkdir', path, 'created');
  }

  async serverTime(): Promise<number> {
    const effect = await this.enter('serverTime', '');
    return this.leave(effect, 'serverTime', '', this.clock.now());
  }

  /**
   * Counts the call, waits out injected delays and throws the faults that stop a call before it
   * does anything. Returns the effect that acts later (`lostResponse`, `lostWrite`, `truncate`, a
   * `reset` of a `get` stream).
   */
  private async enter(op: RemoteOperation, path: string): Promise<FaultEffect | undefined> {
    remotePathSegments(path);
    this.requests[op]++;
    const { delayMs, effect } = this.faults.take(op, path);
    if (delayMs > 0) await this.sleep(delayMs);
    if (!effect || effect.kind === 'lostResponse' || (op === 'get' && effect.kind === 'reset')) return effect;
    const error = faultError(effect, op, path);
    if (error) throw error;
    return effect;
  }

  /** The call did its work; a `lostResponse` fault now drops the answer. */
  private leave<T>(effect: FaultEffect | undefined, op: RemoteOperation, path: string, result: T): T {
    if (effect?.kind === 'lostResponse') throw faultError(effect, op, path)!;
    return result;
  }

  private statOf(path: string): RemoteStat | undefined {
    const folderTime = this.folders.get(path);
    if (folderTime !== undefined) return { size: 0, isDirectory: true, modifiedAt: folderTime };
    const file = this.files.get(path);
    return file && { size: file.data.length, etag: file.etag, isDirectory: false, modifiedAt: file.modifiedAt };
  }

  private readable(path: string, maxBytes = Number.POSITIVE_INFINITY): StoredFile | undefined {
    if (this.folders.has(path)) throw new RemoteError(`Cannot read ${path || '/'}: it is a folder`, { status: 409 });
    const file = this.files.get(path);
    if (file && file.data.length > maxBytes) throw tooLarge(`GET ${path}`, maxBytes, file.data.length);
    return file;
  }

  private requireParent(path: string): void {
    if (!this.folders.has(parentPath(path))) {
      throw new ParentMissingError(path, 409);
    }
  }

  private removeFolder(path: string): void {
    const inside = `${path}/`;
    this.folders.delete(path);
    for (const key of [...this.folders.keys()]) if (key.startsWith(inside)) this.folders.delete(key);
    for (const key of [...this.files.keys()]) if (key.startsWith(inside)) this.files.delete(key);
  }

  /** A counter, not a content hash: every write gets a new ETag, even of identical bytes. */
  private nextEtag(): string {
    return `"m${++this.etagCounter}"`;
  }
}

/** Reads a body whole into one buffer of the announced size, as a server honours Content-Length. */
async function readBody(body: PutBody, path: string): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const data = Buffer.allocUnsafe(body.size);
  let received = 0;
  for await (const chunk of body.open()) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (received + bytes.length <= body.size) bytes.copy(data, received);
    received += bytes.length;
    if (received > body.size) break; // too long already: stop reading
  }
  if (received !== body.size) {
    throw new RemoteError(`Body of ${path} does not match its announced size of ${body.size} bytes`, { status: 400 });
  }
  return data;
}

/** A stream of copies of `data`, ending normally or, with `failure`, failing after the last chunk. */
function streamOf(data: Buffer, failure?: Error): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset < data.length) {
        this.push(Buffer.from(data.subarray(offset, offset + CHUNK_BYTES)));
        offset += CHUNK_BYTES;
      } else if (failure) {
        this.destroy(failure);
      } else {
        this.push(null);
      }
    },
  });
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
