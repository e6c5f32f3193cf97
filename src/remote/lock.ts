import os from 'node:os';
import { isoUtc, systemTimers, type Clock, type Timers } from '../domain/clock.ts';
import { newStableId, type IdSource } from '../domain/ids.ts';
import { AppError } from '../errors.ts';
import { CONTROL_FILE_MAX_BYTES } from './bounded-read.ts';
import { ParentMissingError, RemoteError } from './errors.ts';
import { remotePaths } from './paths.ts';
import type { Remote } from './remote.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';

/** What the owner file inside `version.txt.lock/` says. Times are the server's, never a local clock. */
export interface LockOwner {
  owner: string;
  host: string;
  nonce: string;
  acquired_at: string;
  expires_at: string;
}

export interface LockOptions {
  /** Instance id of the caller. */
  ownerId: string;
  ttlMs: number;
  /** How long `acquire` waits for a held lock before giving up. */
  waitMs: number;
  /** Whether the server's MKCOL has exactly one winner (from the capability probe). */
  exclusiveMkcol: boolean;
  /** First pause between attempts; doubles up to 5 s. */
  pollMs?: number;
  host?: string;
  /** Added to an expiry before calling a lock stale: covers the `Date` header's one-second steps. */
  graceMs?: number;
  /**
   * Treat a lock held under our own `ownerId` as stale: left by a crashed sync of this very instance.
   * Only safe when the caller holds a local lock that no other process of the instance can hold.
   */
  reclaimOwn?: boolean;
  /** Where the renewals of a held lock are scheduled (default: Node's timers). */
  timers?: Timers;
}

/** The lock stayed held by someone else for the whole wait. */
export class LockHeldError extends AppError {
  constructor(readonly holder: LockOwner | undefined) {
    super(
      'lock_held',
      holder
        ? `The remote is locked by ${holder.owner} on ${holder.host} until ${holder.expires_at}; try again later`
        : 'The remote is locked by another instance; try again later',
      409,
      true,
    );
  }
}

/** The lock was taken over (it had expired) or removed while we believed we held it. */
export class LockLostError extends AppError {
  constructor() {
    super('lock_lost', 'The remote lock was lost during the sync; nothing more was written', 409, true);
  }
}

type Attempt =
  | { acquired: true; owner: LockOwner; askedAt: number }
  | { acquired: false; holder: LockOwner | undefined; retryNow?: boolean };

/** Where MKCOL is not exclusive, a second read-back after this pause catches most racing writers. */
const SETTLE_MS = 150;

export class RemoteLock {
  private readonly graceMs: number;
  private readonly host: string;

  constructor(
    private readonly remote: Remote,
    private readonly clock: Clock,
    private readonly ids: IdSource,
    private readonly sleep: Sleep,
    private readonly options: LockOptions,
  ) {
    this.graceMs = options.graceMs ?? 2000;
    this.host = options.host ?? os.hostname();
  }

  /** True where two instances can never both hold the lock. */
  get atomic(): boolean {
    return this.options.exclusiveMkcol;
  }

  async acquire(): Promise<LockHandle> {
    const deadline = this.clock.now() + this.options.waitMs;
    let pause = this.options.pollMs ?? 250;
    let takeovers = 0;
    for (;;) {
      const attempt = await this.tryAcquire();
      if (attempt.acquired) {
        // Only where a PUT's answer proves it stored: a lost write of the owner file (or of a renewal)
        // would leave takers judging an older expiry than the one the holder believes in.
        const exclusive = this.options.exclusiveMkcol && this.remote.putAnswerConfirms === true;
        const proof = { clock: this.clock, exclusive, askedAt: attempt.askedAt };
        return new LockHandle(this.remote, this.options.ttlMs, attempt.owner, this.sleep, this.options.timers, proof);
      }
      // Right after removing a stale lock, try at once (but never loop on takeovers).
      if (attempt.retryNow && takeovers++ < 3) continue;
      const left = deadline - this.clock.now();
      if (left <= 0) throw new LockHeldError(attempt.holder);
      await this.sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 5000);
    }
  }

  /** One attempt: create the lock, or take over an expired one, or report its holder. */
  async tryAcquire(): Promise<Attempt> {
    // The root is created only when the lock's MKCOL says it is missing: one request less per sync.
    const made = await this.remote.mkdir(remotePaths.lockDir).catch(async (error: unknown) => {
      if (!(error instanceof RemoteError) || (error.remoteStatus !== 409 && error.remoteStatus !== 404)) throw error;
      await this.remote.mkdir('');
      return this.remote.mkdir(remotePaths.lockDir);
    });
    if (made === 'exists' || !this.options.exclusiveMkcol) {
      // Where MKCOL is not exclusive every racer sees 'created': an owner file already there decides.
      const holder = await readOwner(this.remote);
      if (made === 'exists' || holder) {
        const stale = await this.staleNonce(holder);
        if (stale === undefined) return { acquired: false, holder };
        return { acquired: false, holder, retryNow: await this.takeOver(stale) };
      }
    }
    const askedAt = this.clock.now();
    const serverNow = await this.remote.serverTime();
    const owner: LockOwner = {
      owner: this.options.ownerId,
      host: this.host,
      nonce: newStableId(this.ids),
      acquired_at: isoUtc(serverNow),
      expires_at: isoUtc(serverNow + this.options.ttlMs),
    };
    try {
      await writeOwner(this.remote, owner);
    } catch (error) {
      // The lock folder went away between our MKCOL and this write: another taker removed it (where
      // MKCOL is not exclusive, rclone). A lost round, not an error: try again.
      if (error instanceof ParentMissingError) return { acquired: false, holder: undefined };
      throw error;
    }
    // Where MKCOL is exclusive the folder is ours alone: the owner file is checked before the commit
    // (`verify`) anyway. Elsewhere another racer may have written its own: read back, and again later.
    if (this.options.exclusiveMkcol) return { acquired: true, owner, askedAt };
    let readBack = await readOwner(this.remote);
    if (readBack?.nonce === owner.nonce) {
      await this.sleep(SETTLE_MS);
      readBack = await readOwner(this.remote);
    }
    if (readBack?.nonce !== owner.nonce) return { acquired: false, holder: readBack };
    return { acquired: true, owner, askedAt };
  }

  /**
   * The nonce to claim when the lock is stale, or undefined while it is live. A lock dir without a
   * readable owner file is live while young (its creator is about to write it) and stale once older
   * than the TTL (its creator crashed).
   */
  private async staleNonce(holder: LockOwner | undefined): Promise<string | undefined> {
    if (holder && this.options.reclaimOwn && holder.owner === this.options.ownerId) return holder.nonce;
    const serverNow = await this.remote.serverTime();
    if (holder) return serverNow > Date.parse(holder.expires_at) + this.graceMs ? holder.nonce : undefined;
    const bornAt = await this.lastTouched();
    if (bornAt === undefined) return undefined;
    return serverNow > bornAt + this.options.ttlMs + this.graceMs ? `ownerless-${Math.floor(bornAt / 1000)}` : undefined;
  }

  /**
   * When an ownerless lock was last touched: the later of the folder's and the owner file's times.
   * An unreadable owner file may be a torn read of a live, renewed lock (rclone during an
   * overwrite): renewals rewrite the file, so its time says the holder is alive.
   */
  private async lastTouched(): Promise<number | undefined> {
    const [dir, file] = await Promise.all([this.remote.stat(remotePaths.lockDir), this.remote.stat(remotePaths.lockOwner)]);
    if (!dir) return undefined;
    return Math.max(dir.modifiedAt ?? 0, file?.modifiedAt ?? 0) || (await this.remote.serverTime());
  }

  /**
   * Removes a stale lock so that the next MKCOL can take it; true when it did. Only one taker gets
   * past the claim, and it re-checks that the lock is still the stale one before deleting it.
   */
  private async takeOver(staleNonce: string): Promise<boolean> {
    const claim = remotePaths.lockClaim(staleNonce);
    if ((await this.remote.mkdir(claim)) !== 'created' && this.options.exclusiveMkcol) {
      // A claim older than the TTL was left by a taker that died: it must not block the lock for good.
      const made = (await this.remote.stat(claim))?.modifiedAt;
      if (made !== undefined && (await this.remote.serverTime()) > made + this.options.ttlMs + this.graceMs) {
        await this.remote.delete(claim);
        return true;
      }
      return false;
    }
    try {
      if (!(await this.stillStale(staleNonce))) return false;
      await this.remote.delete(remotePaths.lockDir);
      return true;
    } finally {
      await this.remote.delete(claim);
    }
  }

  /** Whether the lock is still the one judged stale (not a fresh lock made by a faster taker). */
  private async stillStale(staleNonce: string): Promise<boolean> {
    const current = await readOwner(this.remote);
    if (current) {
      if (current.nonce !== staleNonce) return false;
      if (this.options.reclaimOwn && current.owner === this.options.ownerId) return true;
      // Judged again on a fresh server time: the first judgement may be old (a slow answer) and a
      // renewal keeps the nonce while it moves the expiry.
      return (await this.remote.serverTime()) > Date.parse(current.expires_at) + this.graceMs;
    }
    if (!staleNonce.startsWith('ownerless-')) return false;
    // An ownerless lock is identified by its age: a fresh lock (or a renewal) has a newer time.
    const touched = await this.lastTouched();
    return touched !== undefined && `ownerless-${Math.floor(touched / 1000)}` === staleNonce;
  }
}

/**
 * The locks this process holds, once `trackHeldLocks` was called (the CLI: Ctrl-C gives them back
 * before the process exits, instead of leaving other instances to wait out their TTL).
 */
let heldLocks: Set<LockHandle> | undefined;

export interface HeldLocks {
  /** How many locks this process holds now. */
  count(): number;
  /** Releases them; resolves to how many were still ours and are gone now. */
  releaseAll(): Promise<number>;
}

/** Starts keeping track of the locks this process holds. */
export function trackHeldLocks(): HeldLocks {
  const tracked = (heldLocks ??= new Set());
  return {
    count: () => tracked.size,
    releaseAll: async () => {
      const results = await Promise.allSettled([...tracked].map((handle) => handle.release()));
      return results.filter((r) => r.status === 'fulfilled' && r.value).length;
    },
  };
}

/**
 * What lets a release skip reading the owner file: where MKCOL is exclusive (and a PUT's answer
 * proves the owner file stored), only a taker can end the lock before its holder does, and a taker
 * needs the server's clock past `expires_at` + grace.
 * `expires_at` is the server time asked for at local time `askedAt`, plus the TTL; clocks run at one
 * rate (skew is an offset), so until local `askedAt + TTL` no taker can have judged it stale.
 */
export interface OwnershipProof {
  clock: Clock;
  /** MKCOL is exclusive and the owner file's writes are stored when acknowledged. */
  exclusive: boolean;
  /** Local time right before the server time behind the current `expires_at` was asked for. */
  askedAt: number;
}

/**
 * A release within this share of the TTL after the expiry was set deletes without reading the owner
 * file first: half the TTL of margin for a slow DELETE and clocks that drift.
 */
const UNREAD_RELEASE_SHARE = 0.5;

/** A held lock: renew it during long syncs, release it at the end. */
export class LockHandle {
  /** Cancels the renewal timer; set while auto-renewal runs. */
  private cancelRenew: (() => void) | undefined;
  private renewing = false;
  private releasing: Promise<boolean> | undefined;
  /** A read found the owner file not ours: from then on nothing is deleted unread. */
  private doubted = false;

  constructor(
    private readonly remote: Remote,
    private readonly ttlMs: number,
    private current: LockOwner,
    private readonly sleep: Sleep = realSleep,
    private readonly timers: Timers = systemTimers,
    /** Absent: every release reads the owner file first. */
    private proof?: OwnershipProof,
  ) {
    heldLocks?.add(this);
  }

  get owner(): LockOwner {
    return this.current;
  }

  /**
   * Whether the owner file still carries our nonce. An empty or torn read of it (sabre/dav serves a
   * file being rewritten — by our own renewal — as empty for a moment) is looked at again before
   * the lock is called lost.
   */
  async verify(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const bytes = await readOwnerBytes(this.remote);
      const owner = bytes && parseOwner(bytes);
      if (owner || !bytes || attempt >= OWNER_REREAD_MS.length) {
        const ours = owner?.nonce === this.current.nonce;
        if (!ours) this.doubted = true;
        return ours;
      }
      await this.sleep(OWNER_REREAD_MS[attempt]!);
    }
  }

  /** Pushes the expiry forward; `LockLostError` if the lock is no longer ours. */
  async renew(): Promise<void> {
    if (!(await this.verify())) throw new LockLostError();
    const askedAt = this.proof?.clock.now();
    const serverNow = await this.remote.serverTime();
    this.current = { ...this.current, expires_at: isoUtc(serverNow + this.ttlMs) };
    await writeOwner(this.remote, this.current);
    // Only once the new expiry is written: until then the old one is what takers see.
    if (this.proof && askedAt !== undefined) this.proof = { ...this.proof, askedAt };
  }

  /**
   * Renews every third of the TTL until stopped or released; `onLost` hears of the first failed
   * renewal, once, and renewing stops there. A tick that comes while the renewal before it still
   * waits on a slow server is skipped rather than piled on top.
   */
  startAutoRenew(onLost: (error: unknown) => void): void {
    this.stopAutoRenew();
    const cancel = this.timers.every(Math.max(1000, this.ttlMs / 3), () => {
      if (this.renewing) return;
      this.renewing = true;
      this.renew()
        .catch((error: unknown) => {
          // Stopped meanwhile (the sync ended): nobody is listening for the loss any more.
          if (this.cancelRenew !== cancel) return;
          this.stopAutoRenew();
          onLost(error);
        })
        .finally(() => (this.renewing = false));
    });
    this.cancelRenew = cancel;
  }

  stopAutoRenew(): void {
    this.cancelRenew?.();
    this.cancelRenew = undefined;
  }

  /**
   * Deletes the lock if it is still ours; `false` (and nothing deleted) when it is not. The owner
   * file is read first unless the lock is certainly ours (`OwnershipProof`): one request less at the
   * end of every sync. Called twice (the sync's end and Ctrl-C at once), both wait for one release:
   * a second DELETE could remove the next holder's lock.
   */
  release(): Promise<boolean> {
    this.releasing ??= (async () => {
      this.stopAutoRenew();
      try {
        if (!this.certainlyOurs() && !(await this.verify())) return false;
        return await this.remote.delete(remotePaths.lockDir);
      } finally {
        heldLocks?.delete(this);
      }
    })();
    return this.releasing;
  }

  /** True while no taker can have judged the lock stale, on a server where only a taker ends it. */
  private certainlyOurs(): boolean {
    if (!this.proof?.exclusive || this.doubted) return false;
    const elapsed = this.proof.clock.now() - this.proof.askedAt;
    // A clock that went back proves nothing.
    return elapsed >= 0 && elapsed < this.ttlMs * UNREAD_RELEASE_SHARE;
  }
}

/** Pauses before the holder reads an unreadable owner file again. */
const OWNER_REREAD_MS = [50, 150];

async function readOwner(remote: Remote): Promise<LockOwner | undefined> {
  const bytes = await readOwnerBytes(remote);
  return bytes && parseOwner(bytes);
}

function readOwnerBytes(remote: Remote): Promise<Buffer | undefined> {
  return remote.getBytes(remotePaths.lockOwner, { maxBytes: CONTROL_FILE_MAX_BYTES });
}

/** The owner a file names, or `undefined` for an empty, torn or foreign one. */
function parseOwner(bytes: Buffer): LockOwner | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<LockOwner>;
    const valid =
      typeof parsed.nonce === 'string' &&
      typeof parsed.owner === 'string' &&
      typeof parsed.expires_at === 'string' &&
      !Number.isNaN(Date.parse(parsed.expires_at));
    // A garbage owner file counts as no owner: it is judged by the lock dir's age instead.
    return valid ? (parsed as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

async function writeOwner(remote: Remote, owner: LockOwner): Promise<void> {
  await remote.put(remotePaths.lockOwner, Buffer.from(`${JSON.stringify(owner)}\n`), { contentType: 'application/json' });
}
