/**
 * A sync that loses its lock to a racing instance (a server whose MKCOL is not atomic lets two in)
 * runs once more by itself; only a second loss in a row reaches the caller.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import type { SyncCheckpoint } from '../../src/sync/engine.ts';
import type { SyncEvent } from '../../src/sync/events.ts';
import { AppError } from '../../src/errors.ts';
import { LockLostError } from '../../src/remote/lock.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { RemoteMetadataStore } from '../../src/remote/remote-metadata.ts';
import { createInstance, type TestInstance } from '../support/instance.ts';

const ENV = { DOCSYNC_REMOTE: 'file:///unused', DOCSYNC_LOCK_WAIT: '0' };

describe('a sync that loses a race runs once more', () => {
  const instances: TestInstance[] = [];
  afterEach(() => instances.splice(0).forEach((t) => t.cleanup()));

  /** An instance on `remote`; `onSleep` sees every injected sleep, `onCheckpoint` every crash point. */
  function instance(
    remote: MemoryRemote,
    seed: number,
    hooks: { onSleep?: (ms: number) => Promise<void>; onCheckpoint?: (point: SyncCheckpoint) => Promise<void> } = {},
  ) {
    const t = createInstance(ENV, seed, {
      remote,
      sync: { sleep: async (ms) => hooks.onSleep?.(ms), checkpoint: async (point) => hooks.onCheckpoint?.(point) },
    });
    instances.push(t);
    const events: SyncEvent[] = [];
    t.docsync.sync.subscribe((event) => events.push(event));
    const put = (name: string) => t.docsync.files.create(Readable.from([Buffer.from(`${name} content`)]), { filename: name });
    const names = () => t.docsync.files.list({ limit: 100 }).files.map((f) => f.filename).sort();
    return { t, events, put, names };
  }

  /** What a racing instance does where MKCOL told it 'created' too: its owner file replaces ours. */
  async function forgeOwner(remote: MemoryRemote, owner: string): Promise<void> {
    const now = Date.now();
    const file = { owner, host: 'racer', nonce: `racer-${now}`, acquired_at: new Date(now).toISOString(), expires_at: new Date(now + 60_000).toISOString() };
    await remote.put(remotePaths.lockOwner, Buffer.from(JSON.stringify(file)));
  }

  /** Sleeps long enough to be the race retry's pause (the capability probe also sleeps 20 ms). */
  const retryPauses = (sleeps: number[]) => sleeps.filter((ms) => ms >= 250);

  it('loses its lock to a racer, waits a jittered moment, syncs again: both instances end with both files', async () => {
    const remote = new MemoryRemote();
    const b = instance(remote, 2);
    const sleeps: number[] = [];
    let raced = false;
    const a = instance(remote, 1, {
      onCheckpoint: async (point) => {
        if (point !== 'after_lock' || raced) return;
        raced = true;
        await forgeOwner(remote, b.t.docsync.instanceId);
      },
      onSleep: async (ms) => {
        sleeps.push(ms);
        // The racer finishes its own sync while this one waits.
        if (ms >= 250) await b.t.docsync.sync.sync();
      },
    });
    await a.put('a.txt');
    await b.put('b.txt');
    const summary = await a.t.docsync.sync.sync();
    expect(summary.skipped).toBe(false);
    expect(summary.message).toMatch(/synced a second time: another instance synced at the same moment/);
    const [pause] = retryPauses(sleeps);
    expect(retryPauses(sleeps)).toHaveLength(1);
    expect(pause).toBeGreaterThanOrEqual(250);
    expect(pause).toBeLessThan(1000);
    expect(a.events.filter((e) => e.type === 'syncError')).toEqual([]);
    expect(a.events.some((e) => e.type === 'syncMessage' && /lock was lost.*syncing once more/.test(e.data.message))).toBe(true);
    await b.t.docsync.sync.sync();
    expect(a.names()).toEqual(['a.txt', 'b.txt']);
    expect(b.names()).toEqual(['a.txt', 'b.txt']);
    expect(a.t.docsync.files.unsyncedCount()).toBe(0);
  });

  it('runs once more when another instance committed first (the version moved under it)', async () => {
    const remote = new MemoryRemote();
    let raced = false;
    const a = instance(remote, 1, {
      onCheckpoint: async (point) => {
        if (point !== 'after_local_apply' || raced) return;
        raced = true;
        // A racer that also got the lock publishes a repository before this sync's first commit.
        const store = new RemoteMetadataStore(remote, `${a.t.dataDir}/tmp`, seededIdSource(99));
        const racer = await store.initialize(`${a.t.dataDir}/tmp/racer-state.db`, 'repo-of-the-racer');
        await store.commit(racer, [], undefined, { repo: 'repo-of-the-racer', instance: 'racer', committedAt: '2026-01-01T00:00:00.000Z' });
        racer.close();
      },
    });
    await a.put('a.txt');
    const summary = await a.t.docsync.sync.sync();
    expect(summary.message).toMatch(/synced a second time/);
    const head = await new RemoteMetadataStore(remote, `${a.t.dataDir}/tmp`, seededIdSource(98)).readHead();
    expect(head).toMatchObject({ version: 2, repo: 'repo-of-the-racer' });
    expect(a.t.docsync.files.unsyncedCount()).toBe(0);
  });

  it('reports a second loss in a row as lock_lost (409), after exactly one retry, with nothing committed', async () => {
    const remote = new MemoryRemote();
    const sleeps: number[] = [];
    let locked = 0;
    const a = instance(remote, 1, {
      onCheckpoint: async (point) => {
        if (point !== 'after_lock') return;
        locked++;
        await forgeOwner(remote, 'another-instance');
      },
      onSleep: async (ms) => {
        sleeps.push(ms);
        // The racer released its lock in the meantime.
        if (ms >= 250) await remote.delete(remotePaths.lockDir);
      },
    });
    await a.put('a.txt');
    const error = await a.t.docsync.sync.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ code: 'lock_lost', status: 409 } satisfies Partial<AppError>);
    expect(locked).toBe(2);
    expect(retryPauses(sleeps)).toHaveLength(1);
    expect(a.events.filter((e) => e.type === 'syncError').map((e) => e.data)).toEqual([expect.objectContaining({ code: 'lock_lost' })]);
    expect(remote.snapshot().has(remotePaths.versionFile)).toBe(false);
    expect(a.t.docsync.files.unsyncedCount()).toBe(1);
  });

  it('does not retry other failures', async () => {
    const remote = new MemoryRemote();
    const sleeps: number[] = [];
    const a = instance(remote, 1, { onSleep: async (ms) => void sleeps.push(ms) });
    await a.put('a.txt');
    remote.faults.inject({ op: 'put', path: remotePaths.versionFile, times: Infinity, effect: { kind: 'auth', status: 401 } });
    await expect(a.t.docsync.sync.sync()).rejects.toMatchObject({ code: 'remote_auth' });
    expect(retryPauses(sleeps)).toEqual([]);
  });
});
