import { timingSafeEqual } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ServiceUnavailableError } from '../errors.ts';

const PARAMS = { N: 16384, r: 8, p: 1, keylen: 32 } as const;
const MAX_MEM = 64 * 1024 * 1024;

/**
 * scrypt runs in one dedicated worker thread, never on libuv's thread pool: that pool (4 threads)
 * also serves every file read and write, and a flood of logins there stalled downloads for seconds.
 * The worker is plain JavaScript evaluated from this string, so it runs the same from src/ and dist/.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', ({ id, password, salt, keylen, N, r, p, maxmem }) => {
  try {
    const key = scryptSync(password, Buffer.from(salt), keylen, { N, r, p, maxmem });
    parentPort.postMessage({ id, key });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface ScryptJob {
  password: string;
  salt: Buffer;
  keylen: number;
  N: number;
  r: number;
  p: number;
}

interface Pending {
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

/**
 * One worker, one hash at a time, at most `maxQueued` waiting: past that a hash is refused at once
 * (503 with Retry-After) rather than queued without bound — a login flood then costs one core,
 * never memory, and never the file I/O threads.
 */
export class PasswordHasher {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly maxQueued = 16) {}

  derive(job: ScryptJob): Promise<Buffer> {
    if (this.pending.size >= this.maxQueued) {
      return Promise.reject(new ServiceUnavailableError('Too many logins are being checked right now; try again in a moment', 1));
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Keep the process alive only while a hash is owed (a CLI command waits for it; an idle server need not).
      worker.ref();
      worker.postMessage({ id, ...job, salt: new Uint8Array(job.salt), maxmem: MAX_MEM });
    });
  }

  /** Ends the worker (tests, shutdown); pending hashes fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.failAll(new Error('password hasher closed'));
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', ({ id, key, error }: { id: number; key?: Uint8Array; error?: string }) => {
      const entry = this.pending.get(id);
      if (!entry) return;
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      if (key) entry.resolve(Buffer.from(key));
      else entry.reject(new Error(`scrypt failed: ${error}`));
    });
    const lost = (error: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`password worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

/** The process's hasher: one worker for every AuthService in it. */
export const passwordHasher = new PasswordHasher();

/** `scrypt$N$r$p$<salt b64>$<key b64>`: the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string, salt: Buffer, hasher = passwordHasher): Promise<string> {
  const key = await hasher.derive({ password, salt, ...PARAMS });
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string, hasher = passwordHasher): Promise<boolean> {
  const [scheme, n, r, p, saltB64, keyB64] = stored.split('$');
  if (scheme !== 'scrypt' || !saltB64 || !keyB64) return false;
  const expected = Buffer.from(keyB64, 'base64');
  const key = await hasher.derive({
    password,
    salt: Buffer.from(saltB64, 'base64'),
    N: Number(n),
    r: Number(r),
    p: Number(p),
    keylen: expected.length,
  });
  return timingSafeEqual(key, expected);
}
