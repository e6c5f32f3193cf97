import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import { LockHeldError, LockLostError, RemoteLock, type LockHandle, type LockOwner } from '../../src/remote/lock.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import type { PutBody, PutOptions, PutResult, Remote } from '../../src/remote/remote.ts';
import { tempDir } from '../support/instance.ts';

const TTL = 60_000;
const PERIOD = TTL / 3;
const noSleep = async () => undefined;

/** Lets the renewal that a timer started run to its end (memory remote calls are a few awaits each). */
const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function ownerOf(remote: Remote): Promise<LockOwner> {
  return JSON.parse((await remote.getBytes(remotePaths.lockOwner))!.toString('utf8')) as LockOwner;
}

/** A lock held on a memory remote whose server time, and the renewal timer, run on `clock`. */
async function heldLock(clock: ManualClock, remote: Remote = new MemoryRemote({ clock })): Promise<{ handle: LockHandle; remote: Remote }> {
  const lock = new RemoteLock(remote, clock, seededIdSource(1), noSleep, {
    ownerId: 'me',
    ttlMs: TTL,
    waitMs: 0,
    exclusiveMkcol: true,
    timers: clock,
  });
  return { handle: await lock.acquire(), remote };
}

describe('lock renewal on the injected timers', () => {
  it('renews every third of the TTL as the clock advances, and not before', async () => {
    const clock = new ManualClock();
    const { handle, remote } = await heldLock(clock);
    const acquiredAt = clock.now();
    handle.startAutoRenew(() => expect.unreachable('no renewal should fail'));
    expect(Date.parse((await ownerOf(remote)).expires_at)).toBe(acquiredAt + TTL);

    clock.advance(PERIOD - 1);
    await settle();
    expect(Date.parse((await ownerOf(remote)).expires_at)).toBe(acquiredAt + TTL);

    clock.advance(1);
    await settle();
    expect(Date.parse((await ownerOf(remote)).expires_at)).toBe(acquiredAt + PERIOD + TTL);
    expect(handle.owner.expires_at).toBe((await ownerOf(remote)).expires_at);

    clock.advance(PERIOD);
    await settle();
    expect(Date.parse((await ownerOf(remote)).expires_at)).toBe(acquiredAt + 2 * PERIOD + TTL);
    handle.stopAutoRenew();
  });

  it('a failed renewal calls onLost once, with LockLostError, and renews no more', async () => {
    const clock = new ManualClock();
    const { handle, remote } = await heldLock(clock);
    const lost: unknown[] = [];
    handle.startAutoRenew((error) => lost.push(error));
    // Someone else took the lock over (ours had looked expired to them).
    const thief = { ...(await ownerOf(remote)), owner: 'thief', nonce: 'stolen' };
    await remote.put(remotePaths.lockOwner, Buffer.from(JSON.stringify(thief)));

    clock.advance(PERIOD);
    await settle();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LockLostError);
    expect(clock.pendingTimers).toBe(0);

    clock.advance(5 * PERIOD);
    await settle();
    expect(lost).toHaveLength(1);
    expect(await ownerOf(remote)).toEqual(thief);
  });

  it('stopAutoRenew stops further renewals and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const { handle, remote } = await heldLock(clock);
    handle.startAutoRenew(() => expect.unreachable('no renewal should fail'));
    clock.advance(PERIOD);
    await settle();
    const renewed = (await ownerOf(remote)).expires_at;
    expect(Date.parse(renewed)).toBe(clock.now() + TTL);

    handle.stopAutoRenew();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(5 * PERIOD);
    await settle();
    expect((await ownerOf(remote)).expires_at).toBe(renewed);
  });

  it('a tick while the renewal before it still waits on the server is skipped, not piled on', async () => {
    const clock = new ManualClock();
    const memory = new MemoryRemote({ clock });
    let release: () => void = () => undefined;
    let serverTimeCalls = 0;
    const slow = Object.create(memory) as MemoryRemote;
    slow.serverTime = async () => {
      serverTimeCalls++;
      if (serverTimeCalls > 1) await new Promise<void>((resolve) => (release = resolve));
      return clock.now();
    };
    const { handle } = await heldLock(clock, slow);
    expect(serverTimeCalls).toBe(1); // the acquisition's
    handle.startAutoRenew(() => expect.unreachable('no renewal should fail'));
    clock.advance(PERIOD);
    await settle();
    clock.advance(3 * PERIOD);
    await settle();
    expect(serverTimeCalls).toBe(2);
    release();
    await settle();
    clock.advance(PERIOD);
    await settle();
    expect(serverTimeCalls).toBe(3);
    handle.stopAutoRenew();
  });
});

/**
 * A remote whose blob PUTs take `2 × TTL` of simulated time (a slow server): the clock moves in
 * steps while the PUT waits, as real time would, so the lock's timers fire in the middle of it.
 */
class SlowBlobRemote extends MemoryRemote {
  constructor(
    private readonly manual: ManualClock,
    private readonly putTakesMs: number,
  ) {
    super({ clock: manual });
  }

  override async put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    if (/^[0-9a-f]{2}\//.test(path)) {
      for (let waited = 0; waited < this.putTakesMs; waited += 5000) {
        this.manual.advance(5000);
        await settle();
      }
    }
    return super.put(path, body, options);
  }
}

describe('a long sync on the manual clock', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function instance(remote: Remote, clock: ManualClock, seed: number): Docsync {
    const tmp = tempDir();
    const config = loadConfig(
      { DOCSYNC_DATA_DIR: tmp.dir, DOCSYNC_LOG_LEVEL: 'silent', DOCSYNC_REMOTE: 'none', DOCSYNC_LOCK_TTL: String(TTL / 1000), DOCSYNC_LOCK_WAIT: '0' },
      {},
      tmp.dir,
    );
    const docsync = openDocsync(config, {
      clock,
      timers: clock,
      ids: seededIdSource(seed),
      remote,
      sync: { sleep: async (ms) => clock.advance(ms) },
    });
    cleanups.push(() => {
      docsync.close();
      tmp.remove();
    });
    return docsync;
  }

  it('renews its lock through a blob upload of twice the TTL: another instance finds it held, and the sync commits', async () => {
    const clock = new ManualClock();
    const remote = new SlowBlobRemote(clock, 2 * TTL);
    const a = instance(remote, clock, 1);
    await a.files.create(Readable.from([Buffer.from('a large scan')]), { filename: 'scan.pdf' });
    const startedAt = clock.now();

    // Instance B tries the lock when the upload has run for 1.5 × TTL: past the first expiry.
    const bRemoteLock = new RemoteLock(remote, clock, seededIdSource(9), noSleep, {
      ownerId: 'b',
      ttlMs: TTL,
      waitMs: 0,
      exclusiveMkcol: true,
    });
    let contender: Promise<unknown> | undefined;
    const stopWatching = clock.every(1000, () => {
      if (!contender && clock.now() - startedAt >= 1.5 * TTL) contender = bRemoteLock.acquire().then(() => 'B acquired the lock', (error: unknown) => error);
    });

    const summary = await a.sync.sync();
    stopWatching();
    expect(summary.uploaded).toBe(1);
    expect(summary.errors).toBe(0);
    expect(clock.now() - startedAt).toBeGreaterThanOrEqual(2 * TTL);
    expect(contender).toBeDefined();
    // Without renewals the lock would have expired at 1 × TTL and B would have taken it over.
    const outcome = await contender;
    expect(outcome).toBeInstanceOf(LockHeldError);
    expect(outcome).toMatchObject({ holder: { owner: a.instanceId } });
    // Released at the end, and no renewal timer outlives the sync.
    expect(await remote.getBytes(remotePaths.lockOwner)).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
});
