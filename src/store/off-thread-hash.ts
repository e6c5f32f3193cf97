/**
 * SHA-256 on a worker thread, for large blobs. Hashing runs at about 1.1 GB/s on one core: inline,
 * it took that share of the main thread from a download that also parses HTTP and hands buffers to
 * the disk, and a large download ran at a quarter of a bare GET's speed. On its own thread, the hash
 * of one batch runs while the next is received and written.
 *
 * One worker per process, started on first use and never holding the process open when idle; jobs
 * are told apart by id. Each job has a ring of shared memory (`RING_BYTES`): bytes are copied in
 * (a memcpy into pages already mapped: about a third of what hashing them costs) and the worker
 * hashes them in order; when the ring is full the caller waits, so a slow hash slows the download
 * instead of filling memory. (Handing fresh buffers over instead cost as much as the hash: every new
 * megabyte is page faults.) A worker that dies fails the jobs under way (the caller removes its
 * temp file and the next sync tries again); the next job starts a new one.
 */
import { Worker } from 'node:worker_threads';

/** Each job's ring: bytes copied for the worker and not yet hashed. */
const RING_BYTES = 8 * 1024 * 1024;

/** Plain JavaScript, evaluated by the worker: no file to find next to the compiled or the TypeScript source. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', ({ id, op, ring, at, length }) => {
  try {
    if (op === 'open') {
      jobs.set(id, { hash: createHash('sha256'), ring: new Uint8Array(ring) });
    } else if (op === 'update') {
      jobs.get(id).hash.update(jobs.get(id).ring.subarray(at, at + length));
      parentPort.postMessage({ id, hashed: length });
    } else if (op === 'digest') {
      const job = jobs.get(id);
      jobs.delete(id);
      parentPort.postMessage({ id, digest: job.hash.digest('hex') });
    } else if (op === 'drop') {
      jobs.delete(id);
    }
  } catch (error) {
    jobs.delete(id);
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  id: number;
  hashed?: number;
  digest?: string;
  error?: string;
}

interface Job {
  ring: Buffer;
  /** Where the next bytes go in the ring. */
  head: number;
  /** Bytes in the ring not yet hashed (they end at `head`). */
  inFlight: number;
  /** Resolved when the worker has hashed some bytes (or the job fails). */
  wake: (() => void) | undefined;
  done: { resolve(digest: string): void; reject(error: Error): void } | undefined;
  failure: Error | undefined;
}

class HashWorker {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  open(): number {
    const id = this.nextId++;
    const shared = new SharedArrayBuffer(RING_BYTES);
    this.jobs.set(id, { ring: Buffer.from(shared), head: 0, inFlight: 0, wake: undefined, done: undefined, failure: undefined });
    const worker = this.ensure();
    worker.ref();
    worker.postMessage({ id, op: 'open', ring: shared });
    return id;
  }

  /** Copies `bytes` into the job's ring for the worker, waiting while the ring is full. */
  async update(id: number, bytes: Buffer): Promise<void> {
    const job = this.job(id);
    for (let done = 0; done < bytes.length; ) {
      const free = RING_BYTES - job.inFlight;
      if (free === 0 && !job.failure) await new Promise<void>((wake) => (job.wake = wake));
      if (job.failure) throw job.failure;
      if (free === 0) continue;
      // The free space runs from `head` to the ring's end, then on from its start: one stretch at a time.
      const length = Math.min(bytes.length - done, free, RING_BYTES - job.head);
      bytes.copy(job.ring, job.head, done, done + length);
      this.ensure().postMessage({ id, op: 'update', at: job.head, length });
      job.head = (job.head + length) % RING_BYTES;
      job.inFlight += length;
      done += length;
    }
  }

  digest(id: number): Promise<string> {
    const job = this.job(id);
    if (job.failure) return this.settle(id, Promise.reject(job.failure));
    const digest = new Promise<string>((resolve, reject) => (job.done = { resolve, reject }));
    this.ensure().postMessage({ id, op: 'digest' });
    return this.settle(id, digest);
  }

  /** Forgets a job that will not be finished (a failed download). */
  drop(id: number): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.failJob(job, new Error('the hash was given up'));
    this.jobs.delete(id);
    this.worker?.postMessage({ id, op: 'drop' });
    this.idle();
  }

  private async settle(id: number, digest: Promise<string>): Promise<string> {
    try {
      return await digest;
    } finally {
      this.jobs.delete(id);
      this.idle();
    }
  }

  private job(id: number): Job {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`hash job ${id} is not open`);
    return job;
  }

  /** No job under way: the worker must not keep the process alive. */
  private idle(): void {
    if (this.jobs.size === 0) this.worker?.unref();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // None of this process's flags (a loader, `--input-type=module`): the source is a plain CommonJS script.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.on('message', (reply: Reply) => this.receive(reply));
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`the hashing thread stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private receive({ id, hashed, digest, error }: Reply): void {
    const job = this.jobs.get(id);
    if (!job) return;
    if (error !== undefined) return this.failJob(job, new Error(`hashing failed: ${error}`));
    if (hashed !== undefined) {
      job.inFlight -= hashed;
      this.wakeUp(job);
    }
    if (digest !== undefined) job.done?.resolve(digest);
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const job of this.jobs.values()) this.failJob(job, error);
  }

  private failJob(job: Job, error: Error): void {
    job.failure ??= error;
    job.done?.reject(job.failure);
    this.wakeUp(job);
  }

  private wakeUp(job: Job): void {
    const wake = job.wake;
    job.wake = undefined;
    wake?.();
  }
}

let shared: HashWorker | undefined;

/** A SHA-256 computed on the shared worker thread: `update` with buffers the caller gives up, then `digest` once. */
export class OffThreadHash {
  private readonly worker = (shared ??= new HashWorker());
  private readonly id = this.worker.open();
  private finished = false;

  /** Adds `bytes` (copied: the caller keeps them); resolves once they are in the ring. */
  update(bytes: Buffer): Promise<void> {
    return this.worker.update(this.id, bytes);
  }

  digest(): Promise<string> {
    this.finished = true;
    return this.worker.digest(this.id);
  }

  /** Gives the job up (safe after `digest`). */
  dispose(): void {
    if (!this.finished) this.worker.drop(this.id);
    this.finished = true;
  }
}
