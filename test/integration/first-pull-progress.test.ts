/**
 * A new instance's first pull (the page-by-page adoption, src/sync/adopt.ts) reports its bytes in
 * SSE `syncProgress` like any other pull: what the page shows as "Downloading 2 of 3 files · 1.2 MB
 * of 3 MB · 4 MB/s". It used to report rows only, with `phase_bytes_total` 0.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SyncProgress } from '../../src/sync/events.ts';
import { startCluster, type Cluster, type Node } from '../support/cluster.ts';
import { remoteTargetNames, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

describe.each(remoteTargetNames())('first pull progress on %s', (name) => {
  let target: RemoteTarget;
  let cluster: Cluster;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());
  afterEach(() => cluster?.close());

  it('carries bytes done and total, as a later pull does', async () => {
    cluster = startCluster(target.fresh(), ['a', 'b']);
    const [a, b] = cluster.nodes as [Node, Node];
    const sizes = [70_000, 130_000, 5];
    for (const [i, size] of sizes.entries()) await a.put(`file-${i}.bin`, String(i).repeat(size));
    // Two rows with the same content: one blob, counted once.
    await a.put('copy-of-0.bin', '0'.repeat(sizes[0]!));
    await a.sync();
    const total = sizes.reduce((sum, size) => sum + size, 0);

    const events: SyncProgress[] = [];
    const unsubscribe = b.docsync.sync.subscribe((event) => {
      if (event.type === 'syncProgress') events.push(event.data);
    });
    try {
      expect(await b.sync()).toMatchObject({ downloaded: 4, errors: 0, bytes_downloaded: total });
    } finally {
      unsubscribe();
    }
    const downloading = events.filter((e) => e.phase === 'downloading');
    expect(downloading.length).toBeGreaterThan(0);
    expect(downloading.every((e) => e.phase_bytes_total === total)).toBe(true);
    expect(downloading.at(-1)).toMatchObject({ phase_bytes: total, bytes: total });
    // Bytes never go back within the phase.
    const done = downloading.map((e) => e.phase_bytes);
    expect(done).toEqual([...done].sort((x, y) => x - y));

    // A later pull on the same instance says the same things (the general path).
    await a.put('later.bin', 'L'.repeat(1234));
    await a.sync();
    const later: SyncProgress[] = [];
    const off = b.docsync.sync.subscribe((event) => event.type === 'syncProgress' && later.push(event.data));
    try {
      await b.sync();
    } finally {
      off();
    }
    expect(later.filter((e) => e.phase === 'downloading').at(-1)).toMatchObject({ phase_bytes: 1234, phase_bytes_total: 1234 });
  });
});
