import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RemoteSnapshot } from '../../src/remote/remote-snapshot.ts';
import type { Remote } from '../../src/remote/remote.ts';
import type { VersionHead } from '../../src/remote/version-file.ts';
import { SYNC_STATE_KEYS } from '../../src/store/sync-state.ts';
import { collectAfterCommit, type GcPolicy } from '../../src/sync/garbage-collection.ts';
import { createInstance, type TestInstance } from '../support/instance.ts';

/** The automatic GC after a commit, put off: what it says, sync after sync (nothing reaches the remote). */
describe('collectAfterCommit put off', () => {
  let instance: TestInstance;
  beforeEach(() => {
    instance = createInstance();
  });
  afterEach(() => instance.cleanup());

  const gc: GcPolicy = { intervalMs: 1, windowMs: 1000, graceMs: 1000, historyNames: () => false, pruneHistory: () => undefined };
  const head = (version: number): VersionHead =>
    ({ format: 2, version, commit: `c${version}`, repo: 'repo-1', snapshot: { version: 1, id: 's' }, deltas: [], recent: [] }) as unknown as VersionHead;
  const said: string[] = [];
  const round = async (version: number) => {
    const { docsync, clock } = instance;
    clock.advance(10);
    const report = await collectAfterCommit(
      {
        gc,
        state: docsync.syncState,
        files: docsync.fileRepository,
        remote: {} as Remote,
        clock,
        transferWorkers: 1,
        message: (text) => said.push(text),
      },
      head(version),
      {} as RemoteSnapshot,
      new AbortController().signal,
    );
    expect(report).toBeUndefined();
  };

  it('says a reason once, also when its figures change, and again when the reason changes', async () => {
    said.length = 0;
    await round(5);
    await round(6);
    expect(said).toEqual(['Garbage collection put off: This instance never synced with this remote']);
    instance.docsync.syncState.set(SYNC_STATE_KEYS.repoId, 'repo-1');
    for (const version of [7, 8, 9]) await round(version);
    expect(said.slice(1)).toEqual(['Garbage collection put off: This instance last saw version none, the remote is at version 7']);
    instance.docsync.syncState.markSeen({ version: 9, commit: 'c9' });
    await round(9);
    expect(said.slice(2)).toEqual([expect.stringMatching(/^Garbage collection put off: this instance has not yet seen a whole history window/)]);
  });
});
