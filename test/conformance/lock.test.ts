import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import { probeCapabilities } from '../../src/remote/capabilities.ts';
import { LockHeldError, LockLostError, RemoteLock, type LockOptions } from '../../src/remote/lock.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import type { ReadOptions, Remote } from '../../src/remote/remote.ts';
import { remoteTargetNames, ShiftedTimeRemote, skewedClock, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

const TTL = 30_000;
const noSleep = async () => undefined;
let seed = 1;

describe.each(remoteTargetNames())('remote lock on %s', (name) => {
  let target: RemoteTarget;
  let exclusiveMkcol: boolean;
  /** A second MKCOL of a folder says 'exists' (everywhere but rclone; sabre too, though racers can both win). */
  let existingRefused: boolean;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
    const remote = target.fresh().connect();
    exclusiveMkcol = (await probeCapabilities(remote, seededIdSource(0), 'now')).exclusiveMkcol;
    await remote.mkdir('existing');
    existingRefused = (await remote.mkdir('existing')) === 'exists';
  });
  afterAll(() => target.stop());

  /**
   * A lock client for instance `owner`, `shiftMs` later in the world's time: the server's clock it
   * sees and its own local clock both move with `remote.shiftMs` (clocks run at one rate).
   */
  const lockFor = (remote: Remote, owner: string, shiftMs = 0, extra: Partial<LockOptions> = {}) => {
    const shifted = new ShiftedTimeRemote(remote, shiftMs);
    const options: LockOptions = { ownerId: owner, ttlMs: TTL, waitMs: 0, exclusiveMkcol, pollMs: 10, ...extra };
    const clock = { now: () => Date.now() + shifted.shiftMs };
    return { lock: new RemoteLock(shifted, clock, seededIdSource(seed++), noSleep, options), remote: shifted };
  };

  /** `remote` with its owner-file reads counted. */
  const countingReads = (remote: Remote): { remote: Remote; reads: () => number } => {
    const counted = new OwnerReads(remote, 0);
    return { remote: counted, reads: () => counted.reads };
  };

  /**
   * A young lock folder without a (valid) owner is someone's fresh lock where MKCOL of an existing
   * folder says so. Where it does not (rclone), it cannot be told from our own MKCOL, and is taken:
   * the advisory case.
   */
  const expectHeldWhereExclusive = async (attempt: Promise<unknown>) => {
    if (existingRefused) await expect(attempt).rejects.toBeInstanceOf(LockHeldError);
    else await expect(attempt).resolves.toBeDefined();
  };

  it('probes MKCOL as the measured table says', () => {
    // sabre refuses a second MKCOL from one client, yet tells two racers 'created': found by the probe.
    expect(exclusiveMkcol).toBe(name !== 'rclone' && name !== 'sabre');
  });

  it('4 contenders starting at once, 20 rounds: one holder each round where MKCOL is exclusive', async () => {
    const fresh = target.fresh();
    const holdersPerRound: number[] = [];
    for (let round = 0; round < 20; round++) {
      const contenders = ['a', 'b', 'c', 'd'].map((owner) => lockFor(fresh.connect(), owner).lock);
      const attempts = await Promise.all(contenders.map((lock) => lock.tryAcquire()));
      holdersPerRound.push(attempts.filter((a) => a.acquired).length);
      await fresh.connect().delete(remotePaths.lockDir);
    }
    if (exclusiveMkcol) {
      expect(holdersPerRound).toEqual(Array(20).fill(1));
    } else {
      // rclone answers 201 to every MKCOL: nothing is atomic there, and the lock says so.
      const doubles = holdersPerRound.filter((n) => n > 1).length;
      console.warn(`[lock on ${name}] rounds with more than one holder: ${doubles}/20 (advisory lock)`);
      expect(lockFor(fresh.connect(), 'x').lock.atomic).toBe(false);
      expect(holdersPerRound.every((n) => n >= 1)).toBe(true);
    }
  });

  it('a live lock is not taken, however far off the contender\'s own clock is', async () => {
    const fresh = target.fresh();
    const a = lockFor(fresh.connect(), 'a');
    const held = await a.lock.acquire();
    const shifted = new ShiftedTimeRemote(fresh.connect(), 0);
    const farFuture = new RemoteLock(shifted, skewedClock(86_400_000), seededIdSource(seed++), noSleep, {
      ownerId: 'b', ttlMs: TTL, waitMs: 0, exclusiveMkcol,
    });
    await expect(farFuture.acquire()).rejects.toBeInstanceOf(LockHeldError);
    expect(await held.verify()).toBe(true);
  });

  it('an expired lock is taken over by exactly one of several takers', async () => {
    const fresh = target.fresh();
    // 'a' took its lock 40 s ago by the server's clock (its owner file says so). Shifting the takers'
    // clock instead would make the fresh lock folder one of them creates look 40 s old too, and a
    // second taker would rightly take it as an abandoned, ownerless lock.
    const held = await lockFor(fresh.connect(), 'a', -(TTL + 10_000)).lock.acquire();
    const takers = ['b', 'c', 'd'].map((owner) => lockFor(fresh.connect(), owner).lock);
    const handles = await Promise.allSettled(takers.map((lock) => lock.acquire()));
    const winners = handles.filter((h) => h.status === 'fulfilled');
    if (exclusiveMkcol) expect(winners).toHaveLength(1);
    else expect(winners.length).toBeGreaterThanOrEqual(1);
    expect(await held.verify()).toBe(false);
  });

  it('refuses release and renewal by an owner whose lock was taken over', async () => {
    const fresh = target.fresh();
    const a = lockFor(fresh.connect(), 'a');
    const old = await a.lock.acquire();
    // 40 s go by for the old owner too (a frozen sync): its release must look before deleting.
    a.remote.shiftMs = TTL + 10_000;
    const taker = await lockFor(fresh.connect(), 'b', TTL + 10_000).lock.acquire();
    expect(await old.release()).toBe(false);
    await expect(old.renew()).rejects.toBeInstanceOf(LockLostError);
    expect(await taker.verify()).toBe(true);
    expect(await taker.release()).toBe(true);
    expect(await fresh.connect().stat(remotePaths.lockDir)).toBeUndefined();
  });

  it('a release reads the owner file only when a taker could have judged the lock stale', async () => {
    const fresh = target.fresh();
    const counted = countingReads(fresh.connect());
    const a = lockFor(counted.remote, 'a');
    const held = await a.lock.acquire();
    const readsAfterAcquire = counted.reads();
    // Just short of half the TTL later (for everyone), no taker can have the lock: it is not stale.
    a.remote.shiftMs = TTL / 2 - 1000;
    await expect(lockFor(fresh.connect(), 'b', TTL / 2 - 1000).lock.acquire()).rejects.toBeInstanceOf(LockHeldError);
    expect(await held.release()).toBe(true);
    expect(await fresh.connect().stat(remotePaths.lockDir)).toBeUndefined();
    // Where MKCOL is exclusive only a taker ends a lock, and it cannot have: deleted unread — where
    // an acknowledged owner file is a stored one (the WebDAV servers; not the memory remote, which
    // models lost writes, nor a folder, where the read costs no request).
    const unread = exclusiveMkcol && fresh.connect().putAnswerConfirms === true;
    expect(counted.reads() - readsAfterAcquire).toBe(unread ? 0 : 1);

    // Half the TTL after the expiry was set: no longer certain, so the release reads first.
    const again = lockFor(counted.remote, 'a');
    const second = await again.lock.acquire();
    const before = counted.reads();
    again.remote.shiftMs = TTL / 2;
    expect(await second.release()).toBe(true);
    expect(counted.reads() - before).toBe(1);
    expect(await fresh.connect().stat(remotePaths.lockDir)).toBeUndefined();
  });

  it('renewal keeps the lock past its first expiry', async () => {
    const fresh = target.fresh();
    const a = lockFor(fresh.connect(), 'a');
    const held = await a.lock.acquire();
    a.remote.shiftMs = 20_000;
    await held.renew();
    // 40 s after acquiring: past the first expiry (30 s), within the renewed one (50 s).
    await expect(lockFor(fresh.connect(), 'b', 40_000).lock.acquire()).rejects.toBeInstanceOf(LockHeldError);
    expect(await held.verify()).toBe(true);
    const later = await lockFor(fresh.connect(), 'b', 60_000).lock.acquire();
    expect(later.owner.owner).toBe('b');
  });

  it('a lock folder without an owner file is live while young and taken once older than the TTL', async () => {
    const fresh = target.fresh();
    const remote = fresh.connect();
    await remote.mkdir('');
    await remote.mkdir(remotePaths.lockDir);
    await expectHeldWhereExclusive(lockFor(fresh.connect(), 'b').lock.acquire());
    const taken = await lockFor(fresh.connect(), 'b', TTL + 10_000).lock.acquire();
    expect(taken.owner.owner).toBe('b');
  });

  it('garbage in the owner file counts as no owner, never as a crash', async () => {
    const fresh = target.fresh();
    const remote = fresh.connect();
    await remote.mkdir('');
    await remote.mkdir(remotePaths.lockDir);
    await remote.put(remotePaths.lockOwner, Buffer.from('{"nonce": 5, garbage'));
    await expectHeldWhereExclusive(lockFor(fresh.connect(), 'b').lock.acquire());
    const taken = await lockFor(fresh.connect(), 'b', TTL + 10_000).lock.acquire();
    expect(await taken.verify()).toBe(true);
  });

  it('waits for a held lock, then names its holder', async () => {
    const fresh = target.fresh();
    await lockFor(fresh.connect(), 'holder-instance').lock.acquire();
    const sleeps: number[] = [];
    const waiting = new RemoteLock(new ShiftedTimeRemote(fresh.connect(), 0), fakeTime(sleeps), seededIdSource(seed++), async (ms) => {
      sleeps.push(ms);
    }, { ownerId: 'b', ttlMs: TTL, waitMs: 2000, exclusiveMkcol, pollMs: 100 });
    const error = await waiting.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as LockHeldError).message).toMatch(/locked by holder-instance/);
    expect(sleeps.slice(0, 4)).toEqual([100, 200, 400, 800]);
  });
});

/** Counts the reads of the lock's owner file. */
class OwnerReads extends ShiftedTimeRemote {
  reads = 0;
  override getBytes(p: string, options?: ReadOptions): Promise<Buffer | undefined> {
    if (p === remotePaths.lockOwner) this.reads++;
    return super.getBytes(p, options);
  }
}

/** A local clock that advances only by the sleeps recorded in `sleeps`. */
function fakeTime(sleeps: number[]) {
  const start = Date.now();
  return { now: () => start + sleeps.reduce((a, b) => a + b, 0) };
}
