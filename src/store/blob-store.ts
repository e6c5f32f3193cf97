import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IdSource } from '../domain/ids.ts';
import { HashMismatchError, PayloadTooLargeError } from '../errors.ts';

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
   */
  async stage(source: Readable, maxBytes = Number.POSITIVE_INFINITY): Promise<StagedBlob> {
    const tempPath = path.join(this.tmpDir, `${this.ids.bytes(12).toString('hex')}.part`);
    const hasher = createHash('sha256');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new PayloadTooLargeError(maxBytes));
        hasher.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, measure, fs.createWriteStream(tempPath, { flags: 'wx' }));
      const handle = await fsp.open(tempPath, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await fsp.rm(tempPath, { force: true });
      throw error;
    }
    return { hash: hasher.digest('hex'), size, tempPath };
  }

  /** Like `stage`, but the content must hash to `expectedHash` (downloads from a remote). */
  async stageVerified(source: Readable, expectedHash: string, maxBytes?: number): Promise<StagedBlob> {
    const staged = await this.stage(source, maxBytes);
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
