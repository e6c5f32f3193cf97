import type { Readable } from 'node:stream';
import type { MemoryRemote } from '../src/remote/memory-remote.ts';
import { remotePaths } from '../src/remote/paths.ts';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from '../src/remote/remote.ts';
import { SimulatedCrash } from '../src/sync/engine.ts';

/**
 * A simulated `kill -9` at a point of a sync. It is a `SimulatedCrash`, so the engine skips its
 * cleanup (lock release, temp files) exactly as a dead process would.
 */
export class SimKill extends SimulatedCrash {
  constructor(readonly where: string) {
    // The engine reads `point` only in the message; the real point is `where`.
    super('after_lock');
    this.message = `simulated kill at ${where}`;
  }
}

/**
 * Reads a file of the memory remote as it is, without going through its fault injection or request
 * counters: the invariant checkers must see the truth, not what a faulty network would show. White
 * box: it relies on the `files` map inside `MemoryRemote`.
 */
export function peek(memory: MemoryRemote, path: string): Buffer | undefined {
  const files = (memory as unknown as { files?: unknown }).files;
  if (!(files instanceof Map)) throw new Error('MemoryRemote internals changed: update peek() in sim/observer.ts');
  return (files as Map<string, { data: Buffer }>).get(path)?.data;
}

/** Overwrites a file of the memory remote directly (white box): the world's own writes, past the faults. */
export function poke(memory: MemoryRemote, path: string, data: Buffer, now: number): void {
  const files = (memory as unknown as { files?: unknown }).files;
  if (!(files instanceof Map)) throw new Error('MemoryRemote internals changed: update poke() in sim/observer.ts');
  pokes++;
  (files as Map<string, { data: Buffer; etag: string; modifiedAt: number }>).set(path, { data, etag: `"sim-${pokes}"`, modifiedAt: now });
}
let pokes = 0;

/** The folders of the memory remote whose path starts with `prefix` (white box, like `peek`). */
export function peekFolders(memory: MemoryRemote, prefix: string): string[] {
  const folders = (memory as unknown as { folders?: unknown }).folders;
  if (!(folders instanceof Map)) throw new Error('MemoryRemote internals changed: update peekFolders() in sim/observer.ts');
  return [...(folders as Map<string, number>).keys()].filter((p) => p.startsWith(prefix)).sort();
}

/** What the world does around each remote call of one instance incarnation. */
export interface CallHooks {
  /**
   * Before a call: counts it as an event of the running sync; may park it, or kill the instance
   * (throws `SimKill`). Returns true when the instance must die right after this call took effect.
   */
  before(op: string, path: string): Promise<boolean>;
  /** Before the call reaches the server: returns what to run once it has (observations). */
  observe(op: string, path: string, body: PutBody | undefined): (() => void) | undefined;
  /** Kills the instance after the call took effect (its answer never arrives). */
  killAfter(op: string, path: string): never;
}

/**
 * The remote one instance incarnation talks to (under its `RetryingRemote`): the shared
 * `MemoryRemote`, plus the world's hooks — crash and pause points, and the observations behind
 * invariants 4 and 5 (who switches `version.txt`, and what the snapshot it names holds).
 */
export class SimRemote implements Remote {
  constructor(
    private readonly inner: MemoryRemote,
    private readonly hooks: CallHooks,
    private readonly server: {
      /** False like rclone: MKCOL answers 'created' to everyone, so the lock is not atomic. */
      exclusiveMkcol: boolean;
      /** False like nginx and rclone: `If-Match` and `If-None-Match` are ignored. */
      preconditions: boolean;
    } = { exclusiveMkcol: true, preconditions: true },
  ) {}

  get description(): string {
    return this.inner.description;
  }

  stat(path: string): Promise<RemoteStat | undefined> {
    return this.call('stat', path, undefined, () => this.inner.stat(path));
  }
  get(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    return this.call('get', path, undefined, () => this.inner.get(path, options));
  }
  getBytes(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.call('getBytes', path, undefined, () => this.inner.getBytes(path, options));
  }
  put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    const honoured = this.server.preconditions ? options : options && { ...options, ifMatch: undefined, ifNoneMatch: undefined };
    return this.call('put', path, body, () => this.inner.put(path, body, honoured));
  }
  delete(path: string, options?: { ifMatch?: string }): Promise<boolean> {
    const honoured = this.server.preconditions ? options : undefined;
    return this.call('delete', path, undefined, () => this.inner.delete(path, honoured));
  }
  list(path: string): Promise<RemoteEntry[] | undefined> {
    return this.call('list', path, undefined, () => this.inner.list(path));
  }
  mkdir(path: string): Promise<'created' | 'exists'> {
    return this.call('mkdir', path, undefined, async () => {
      const made = await this.inner.mkdir(path);
      return this.server.exclusiveMkcol ? made : 'created';
    });
  }
  serverTime(): Promise<number> {
    return this.call('serverTime', '', undefined, () => this.inner.serverTime());
  }

  private async call<T>(op: string, path: string, body: PutBody | undefined, work: () => Promise<T>): Promise<T> {
    const dieAfter = await this.hooks.before(op, path);
    const observed = this.hooks.observe(op, path, body);
    let result: T | undefined;
    let failure: { error: unknown } | undefined;
    try {
      result = await work();
    } catch (error) {
      failure = { error };
    }
    observed?.();
    if (dieAfter) this.hooks.killAfter(op, path);
    if (failure) throw failure.error;
    return result as T;
  }
}

/** A short class name of a remote path, for statistics. */
export function pathClass(path: string): string {
  if (path === remotePaths.versionFile) return 'version.txt';
  if (path === remotePaths.lockOwner) return 'lock-owner';
  if (path.startsWith(remotePaths.lockDir)) return path === remotePaths.lockDir ? 'lock-dir' : 'lock-claim';
  // The shared metadata: format 1's snapshots, format 2's snapshots and deltas.
  if ([remotePaths.metadataDir, remotePaths.snapshotsDir, remotePaths.journalDir].some((dir) => path.startsWith(dir))) return 'metadata';
  if (path.startsWith(remotePaths.probeDir)) return 'probe';
  if (/^[0-9a-f]{2}(\/|$)/.test(path)) return 'blob';
  if (path === '') return 'root';
  return 'other';
}
