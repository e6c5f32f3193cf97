/** The background status check (src/sync/remote-watch.ts): on its interval, only while someone listens and no sync runs, announcing changes only. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { RemoteWatch } from '../../src/sync/remote-watch.ts';
import type { SyncStatusReport } from '../../src/sync/sync-service.ts';

const status = (remote_version: number, extra: Partial<SyncStatusReport> = {}): SyncStatusReport => ({
  needs_sync: remote_version !== 1,
  local_version: 1,
  remote_version,
  unsynced_count: 0,
  last_sync_time: null,
  sync_in_progress: false,
  remote_configured: true,
  remote: 'memory',
  remote_error: null,
  remote_error_code: null,
  remote_capabilities: null,
  lock_atomic: null,
  ...extra,
});

describe('RemoteWatch', () => {
  it('checks on its interval while someone listens and no sync runs, and announces each change once', async () => {
    const clock = new ManualClock();
    let remote = 1;
    let listening = false;
    let syncing = false;
    let checks = 0;
    const announced: SyncStatusReport[] = [];
    const watch = new RemoteWatch({
      status: async () => {
        checks++;
        return status(remote);
      },
      active: () => listening,
      busy: () => syncing,
      announce: (s) => announced.push(s),
      timers: clock,
    });
    watch.start(60_000);
    const tick = async () => {
      clock.advance(60_000);
      await new Promise((resolve) => setImmediate(resolve));
    };
    await tick();
    expect(checks).toBe(0); // nobody listens
    listening = true;
    await tick();
    await tick();
    expect(checks).toBe(2);
    expect(announced.map((s) => s.remote_version)).toEqual([1]);
    remote = 2;
    syncing = true;
    await tick();
    expect(checks).toBe(2); // a sync runs: its own events speak
    syncing = false;
    await tick();
    expect(announced.map((s) => [s.remote_version, s.needs_sync])).toEqual([[1, false], [2, true]]);
    watch.close();
    remote = 3;
    await tick();
    expect(checks).toBe(3);
  });

  it('an interval of 0 never checks; a failing check waits for the next tick', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const watch = new RemoteWatch({
      status: async () => {
        calls++;
        throw new Error('database gone');
      },
      active: () => true,
      busy: () => false,
      announce: () => undefined,
      timers: clock,
    });
    watch.start(0);
    clock.advance(3_600_000);
    expect(calls).toBe(0);
    watch.start(1000);
    clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
    watch.close();
  });
});
