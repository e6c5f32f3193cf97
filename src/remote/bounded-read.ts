/**
 * Every remote read is bounded (docs/design.md#untrusted-remotes): a deadline for an answer's headers, an idle timeout for
 * its body, a size cap, and a time budget for a whole operation. The one place these limits are
 * enforced: adapters wrap their requests and bodies with it, so a stalled or endless server never
 * holds a sync (or the lock) for long and never fills memory or a disk.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { RemoteCorruptError, RemoteError, RemoteTimeoutError, RemoteUnavailableError } from './errors.ts';

export interface ReadLimits {
  /** From sending a request to its answer's headers. */
  headerMs: number;
  /**
   * Longest silence while a body moves (a download's bytes, an upload's progress) — not a total
   * deadline, so a 1 GB transfer at normal speed is never cut off.
   */
  idleMs: number;
  /** From the last byte of a streamed upload to its answer: servers move or hash large files first. */
  afterUploadMs: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { headerMs: 10_000, idleMs: 30_000, afterUploadMs: 120_000 };

/** `version.txt`, the lock's `owner.json`: a few hundred bytes; anything near this is not ours. */
export const CONTROL_FILE_MAX_BYTES = 64 * 1024;
/** A snapshot of the shared metadata: large, but finite. */
export const SNAPSHOT_MAX_BYTES = 1024 ** 3;
/** `getBytes` without a cap of its own: it buffers, so it is never unbounded. */
export const SMALL_FILE_MAX_BYTES = 16 * 1024 ** 2;
/** A PROPFIND answer (a shard folder of many blobs lists in a few MB). */
export const LISTING_MAX_BYTES = 64 * 1024 ** 2;

/** Options of a read: the most bytes the caller accepts (a blob: exactly its row's size). */
export interface ReadOptions {
  maxBytes?: number;
  /**
   * `getBytes`: hears the ETag the server sent with these very bytes (undefined: none). Content and
   * ETag of one answer belong together, which a separate PROPFIND cannot promise.
   */
  onEtag?: (etag: string | undefined) => void;
}

/** A timer with a reason, re-armed as an exchange moves from phase to phase. */
class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private ms = 0;
  private reason = '';

  constructor(private readonly expire: (reason: string) => void) {}

  arm(ms: number, reason: string): void {
    this.stop();
    this.ms = ms;
    this.reason = reason;
    this.timer = setTimeout(() => this.expire(this.reason), ms);
  }

  /** Progress: the current phase starts over. */
  touch(): void {
    this.timer?.refresh();
  }

  /** Stops counting until `resume` (the reader is busy, not the server). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (!this.timer && this.ms > 0) this.arm(this.ms, this.reason);
  }
}

/**
 * Watches a request until its answer's headers arrive: `headerMs` after it was sent (after the last
 * byte of a streamed `upload`: `afterUploadMs`, and while the upload moves, `idleMs` of silence).
 * A late answer destroys the request with a retryable `RemoteTimeoutError` naming `what`.
 */
export function watchRequest(req: ClientRequest, limits: ReadLimits, what: string, upload?: Readable): void {
  const watchdog = new Watchdog((reason) => req.destroy(new RemoteTimeoutError(`The WebDAV server ${reason} (${what})`)));
  if (upload) {
    watchdog.arm(limits.idleMs, `took no upload data for ${seconds(limits.idleMs)}`);
    upload.on('data', () => watchdog.touch());
    req.once('finish', () => watchdog.arm(limits.afterUploadMs, `did not answer within ${seconds(limits.afterUploadMs)} of the upload`));
  } else {
    watchdog.arm(limits.headerMs, `did not answer within ${seconds(limits.headerMs)}`);
  }
  req.once('response', () => watchdog.stop());
  req.once('close', () => watchdog.stop());
}

/**
 * The body of an answer, guarded: it fails with a retryable `RemoteTimeoutError` when the server
 * sends nothing for `idleMs` while the reader waits, and with `RemoteCorruptError` as soon as it
 * exceeds `maxBytes` — thrown at once when `Content-Length` already says so. Destroying the guard
 * destroys the response (its connection is not reused).
 */
export function guardBody(res: IncomingMessage, idleMs: number | undefined, what: string, maxBytes = Number.POSITIVE_INFINITY): Readable {
  const announced = Number(res.headers['content-length']);
  if (Number.isFinite(announced) && announced > maxBytes) {
    res.destroy();
    throw tooLarge(what, maxBytes, announced);
  }
  return new BodyGuard(res, maxBytes, what, idleMs);
}

/** A size cap on any stream (a file, a memory buffer): `RemoteCorruptError` past `maxBytes`. */
export function capStream(source: Readable, maxBytes: number | undefined, what: string): Readable {
  return maxBytes === undefined ? source : new BodyGuard(source, maxBytes, what, undefined);
}

/** Reads a stream whole, but never more than `maxBytes` of it (`RemoteCorruptError` beyond). */
export async function readCapped(source: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > maxBytes) {
      source.destroy();
      throw tooLarge(what, maxBytes);
    }
    chunks.push(bytes);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * `work`, or a retryable `RemoteTimeoutError` with `message` once `ms` have passed: a bound on a
 * whole operation (its retries included) for callers that must answer in time. The work itself
 * ends on its own limits; its late outcome is ignored.
 */
export function withinBudget<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RemoteTimeoutError(message)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** `ms` as people say it: `10 s`, `0.25 s`. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

export function tooLarge(what: string, maxBytes: number, announced?: number): RemoteCorruptError {
  const said = announced === undefined ? '' : ` (it announces ${announced})`;
  return new RemoteCorruptError(`${what} is larger than the ${maxBytes} bytes it may have${said}; the read was cut off`);
}

/**
 * Passes bytes through, counting them and watching for silence. Nothing flows, and no timer runs,
 * until the reader first asks: an error can never fire before someone listens. From then on the
 * idle timer runs only while the reader wants more — a busy reader is not the server's fault.
 */
class BodyGuard extends Transform {
  private size = 0;
  private started = false;
  private early: Error | undefined;
  private readonly watchdog: Watchdog | undefined;

  constructor(
    private readonly source: Readable,
    private readonly maxBytes: number,
    private readonly what: string,
    private readonly idleMs: number | undefined,
  ) {
    super();
    if (idleMs !== undefined) {
      this.watchdog = new Watchdog((reason) => this.destroy(new RemoteTimeoutError(`The WebDAV server ${reason} (${what})`)));
    }
    source.on('error', (error) => {
      const failure = error instanceof RemoteError ? error : new RemoteUnavailableError(`The connection broke off while reading ${what}`, { cause: error });
      if (this.started) this.destroy(failure);
      else this.early ??= failure;
    });
    this.once('close', () => {
      this.watchdog?.stop();
      if (!this.writableFinished) source.destroy();
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) return done(tooLarge(this.what, this.maxBytes));
    this.watchdog?.touch();
    done(null, chunk);
    if (this.readableLength >= this.readableHighWaterMark) this.watchdog?.stop();
  }

  override _flush(done: TransformCallback): void {
    this.watchdog?.stop();
    done();
  }

  override _read(size: number): void {
    if (!this.started) {
      this.started = true;
      if (this.early) return void this.destroy(this.early);
      if (this.idleMs !== undefined) this.watchdog?.arm(this.idleMs, `sent nothing for ${seconds(this.idleMs)} in the middle of the body`);
      this.source.pipe(this);
    } else {
      this.watchdog?.resume();
    }
    super._read(size);
  }
}
