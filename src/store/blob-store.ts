import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IdSource } from '../domain/ids.ts';
import { HashMismatchError, PayloadTooLargeError } from '../errors.ts';
import { OffThreadHash } from './off-thread-hash.ts';

/** Content received into a temp file, hashed while streaming, not yet visible in the store. */
export interface StagedBlob {
  readonly hash: string;
  readonly size: number;
  readonly tempPath: string;
}

export interface GarbageReport {
  removed: number;
  /** Bytes of the blobs removed. */
  bytesFreed: number;
  kept: number;
  tempRemoved: number;
}

export interface GarbageOptions {
  /** Blobs and temp files younger than this (by file mtime) are kept. Default one hour. */
  graceMs?: number;
  /** Count what would go; remove nothing. */
  dryRun?: boolean;
  /** Also remove stale `.part` files (default). `docsync gc` sweeps them with `sweepTempFiles` instead. */
  sweepTemp?: boolean;
}

const HASH_PATTERN = /^[0-9a-f]{64}$/;
const EXT_PATTERN = /^[a-z0-9]+(\.[a-z0-9]+)*$/;

/**
 * Content-addressed local blob store: `<root>/ab/<sha256>.<ext>`. A blob becomes visible only by an
 * atomic rename of a complete, fsynced temp file, so readers never see half a blob. Temp files live
 * in a sibling folder on the same filesystem (rename is atomic only within one).
 */
export class BlobStore {
  constructor(
    private readonly root: string,
    private readonly tmpDir: string,
    private readonly ids: IdSource,
  ) {
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(tmpDir, { recursive: true });
  }

  /** The one place blob paths are built; refuses anything that is not a hash and a plain extension. */
  pathOf(hash: string, ext: string): string {
    if (!HASH_PATTERN.test(hash)) throw new Error(`not a sha256 hex digest: ${hash}`);
    if (!EXT_PATTERN.test(ext)) throw new Error(`not a blob extension: ${ext}`);
    return path.join(this.root, hash.slice(0, 2), `${hash}.${ext}`);
  }

  has(hash: string, ext: string): boolean {
    return fs.existsSync(this.pathOf(hash, ext));
  }

  /**
   * Streams `source` into a temp file, computing its SHA-256 on the way. Fails with
   * `PayloadTooLargeError` as soon as more than `maxBytes` arrive; the temp file is removed on any error.
   * `expectedBytes` (a download's stated size, an upload's Content-Length) of `OFF_THREAD_MIN_BYTES` or
   * more moves the hashing to a worker thread.
   */
  async stage(source: Readable, maxBytes = Number.POSITIVE_INFINITY, expectedBytes = 0): Promise<StagedBlob> {
    const tempPath = path.join(this.tmpDir, `${this.ids.bytes(12).toString('hex')}.part`);
    let sink: HashingFileSink | undefined;
    // The source may fail while the temp file is being opened (a file that does not exist): heard
    // here, not as an uncaught error, before `pipeline` listens.
    let early: unknown;
    const onEarly = (error: unknown) => {
      early ??= error;
    };
    source.on('error', onEarly);
    try {
      try {
        sink = new HashingFileSink(await fsp.open(tempPath, 'wx'), maxBytes, expectedBytes >= OFF_THREAD_MIN_BYTES);
      } finally {
        source.off('error', onEarly);
      }
      if (early !== undefined) throw early;
      await pipeline(source, sink);
      await sink.sync();
      const hash = await sink.digest();
      await sink.close();
      return { hash, size: sink.size, tempPath };
    } catch (error) {
      await sink?.close().catch(() => undefined);
      await fsp.rm(tempPath, { force: true });
      throw error;
    }
  }

  /** Like `stage`, but the content must hash to `expectedHash` (downloads from a remote). */
  async stageVerified(source: Readable, expectedHash: string, maxBytes?: number): Promise<StagedBlob> {
    const staged = await this.stage(source, maxBytes, maxBytes);
    if (staged.hash !== expectedHash) {
      await this.discard(staged);
      throw new HashMismatchError(expectedHash, staged.hash);
    }
    return staged;
  }

  /** Makes a staged blob visible under its address. Identical content already there is simply replaced. */
  async commit(staged: StagedBlob, ext: string): Promise<void> {
    const target = this.pathOf(staged.hash, ext);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(staged.tempPath, target);
  }

  async discard(staged: StagedBlob): Promise<void> {
    await fsp.rm(staged.tempPath, { force: true });
  }

  /** Reads a blob, optionally a byte range (inclusive `end`, as in HTTP). */
  createReadStream(hash: string, ext: string, range?: { start: number; end: number }): fs.ReadStream {
    return fs.createReadStream(this.pathOf(hash, ext), range);
  }

  /** Re-hashes a stored blob: true when its content still matches its address. */
  async verify(hash: string, ext: string): Promise<boolean> {
    const hasher = createHash('sha256');
    try {
      await pipeline(fs.createReadStream(this.pathOf(hash, ext)), hasher);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    return hasher.digest('hex') === hash;
  }

  /**
   * Removes a blob that no row needs. The reference check and the unlink run synchronously, so no
   * other request of this process can add a reference in between.
   */
  removeIfUnreferenced(hash: string, ext: string, isReferenced: (hash: string, ext: string) => boolean): boolean {
    if (isReferenced(hash, ext)) return false;
    try {
      fs.unlinkSync(this.pathOf(hash, ext));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /**
   * Sweeps blobs no row references and temp files left by crashed uploads. Anything younger than
   * `graceMs` is kept: an upload in another process (the CLI) may have committed its blob but not yet
   * its row.
   */
  async collectGarbage(
    isReferenced: (hash: string, ext: string) => boolean,
    nowMs: number,
    { graceMs = 60 * 60 * 1000, dryRun = false, sweepTemp = true }: GarbageOptions = {},
  ): Promise<GarbageReport> {
    const report: GarbageReport = { removed: 0, bytesFreed: 0, kept: 0, tempRemoved: 0 };
    const oldFile = async (file: string): Promise<fs.Stats | undefined> => {
      const stat = await fsp.stat(file).catch(() => undefined);
      return stat !== undefined && nowMs - stat.mtimeMs >= graceMs ? stat : undefined;
    };
    for (const shard of await fsp.readdir(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await fsp.readdir(path.join(this.root, shard))) {
        const match = /^([0-9a-f]{64})\.(.+)$/.exec(name);
        if (!match || !EXT_PATTERN.test(match[2]!)) continue;
        const [, hash, ext] = match as unknown as [string, string, string];
        const stat = isReferenced(hash, ext) ? undefined : await oldFile(path.join(this.root, shard, name));
        if (stat && (dryRun ? !isReferenced(hash, ext) : this.removeIfUnreferenced(hash, ext, isReferenced))) {
          report.removed++;
          report.bytesFreed += stat.size;
        } else {
          report.kept++;
        }
      }
    }
    for (const name of sweepTemp ? await fsp.readdir(this.tmpDir) : []) {
      const file = path.join(this.tmpDir, name);
      if (name.endsWith('.part') && (await oldFile(file))) {
        if (!dryRun) await fsp.rm(file, { force: true });
        report.tempRemoved++;
      }
    }
    return report;
  }
}

/** How much received content may wait for the disk: the network keeps flowing while a write is under way. */
const SINK_HIGH_WATER_MARK = 1024 * 1024;
/**
 * Every this many bytes, the written part is flushed to the disk in the background, so the final
 * fsync waits for the last stretch only, not the whole file (a GB landing at once in the page cache
 * otherwise reaches the disk only when `sync` is called).
 */
const SINK_FLUSH_BYTES = 64 * 1024 * 1024;
/** From this size on, a blob is hashed on a worker thread (below it, handing bytes over costs more than it saves). */
const OFF_THREAD_MIN_BYTES = 8 * 1024 * 1024;

/**
 * The end of a stage: counts (refusing more than `maxBytes`), hashes, and writes to an open temp file.
 * One stage instead of a hashing Transform before a `fs.WriteStream`, whose 16 KiB high-water marks
 * stopped the download at every 64 KiB chunk until the disk write of the one before had finished.
 * Here chunks pile up (to `SINK_HIGH_WATER_MARK`) while a write runs and go out in one `writev`.
 * Off the main thread (`offThread`), each batch is handed to the hashing thread, which hashes it
 * while it is written and while the next batch arrives.
 */
class HashingFileSink extends Writable {
  size = 0;
  private readonly hasher: ReturnType<typeof createHash> | OffThreadHash;
  private written = 0;
  private flushedAt = 0;
  private flushing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** A failed background flush: the final `sync` reports it (a second fsync may not, on Linux). */
  private flushError: unknown;

  constructor(
    private readonly handle: fsp.FileHandle,
    private readonly maxBytes: number,
    offThread: boolean,
  ) {
    super({ highWaterMark: SINK_HIGH_WATER_MARK });
    this.hasher = offThread ? new OffThreadHash() : createHash('sha256');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this._writev([{ chunk }], done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    const hasher = this.hasher;
    for (const buffer of buffers) {
      this.size += buffer.length;
      if (this.size > this.maxBytes) return done(new PayloadTooLargeError(this.maxBytes));
      if (!(hasher instanceof OffThreadHash)) hasher.update(buffer);
    }
    if (!(hasher instanceof OffThreadHash)) return void this.writeAll(buffers).then(() => done(), done);
    const handOver = async () => {
      for (const buffer of buffers) await hasher.update(buffer);
    };
    Promise.all([this.writeAll(buffers), handOver()]).then(() => done(), done);
  }

  /** Waits for the background flush, then makes the whole file durable. */
  async sync(): Promise<void> {
    await this.flushing;
    if (this.flushError) throw this.flushError;
    await this.handle.sync();
  }

  digest(): Promise<string> {
    return this.hasher instanceof OffThreadHash ? this.hasher.digest() : Promise.resolve(this.hasher.digest('hex'));
  }

  close(): Promise<void> {
    if (this.hasher instanceof OffThreadHash) this.hasher.dispose();
    this.closing ??= (async () => {
      await this.flushing;
      await this.handle.close();
    })();
    return this.closing;
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let { bytesWritten } = await this.handle.writev(buffers);
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    // A short write (rare on files, possible near a full disk): write the rest.
    for (let at = bytesWritten; at < total; at += bytesWritten) {
      ({ bytesWritten } = await this.handle.writev(rest(buffers, at)));
      if (bytesWritten === 0) throw Object.assign(new Error('the disk took no more bytes'), { code: 'ENOSPC' });
    }
    this.written += total;
    if (this.written - this.flushedAt >= SINK_FLUSH_BYTES && !this.flushing) {
      this.flushedAt = this.written;
      this.flushing = this.handle.datasync().then(
        () => void (this.flushing = undefined),
        (error: unknown) => {
          this.flushError ??= error;
          this.flushing = undefined;
        },
      );
    }
  }
}

/** The buffers after the first `offset` bytes. */
function rest(buffers: Buffer[], offset: number): Buffer[] {
  const out: Buffer[] = [];
  for (const buffer of buffers) {
    if (offset >= buffer.length) offset -= buffer.length;
    else {
      out.push(offset > 0 ? buffer.subarray(offset) : buffer);
      offset = 0;
    }
  }
  return out;
}
