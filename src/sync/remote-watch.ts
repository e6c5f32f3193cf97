import type { Timers } from '../domain/clock.ts';
import type { SyncStatusReport } from './sync-service.ts';

export interface RemoteWatchDeps {
  /** The status check: local counters plus one read of `version.txt`. */
  status(): Promise<SyncStatusReport>;
  /** Whether anyone listens (an open event stream): no listener, no remote request. */
  active(): boolean;
  /** A sync runs: its own events tell the pages, and its end changes the status anyway. */
  busy(): boolean;
  /** Hears each status that differs from the last one announced. */
  announce(status: SyncStatusReport): void;
  timers: Timers;
}

/**
 * The server's background status check (docs/design.md#events-sse): every interval, while a page
 * listens, one read of `version.txt`; a status that changed (another instance committed, the remote
 * became unreachable or came back) goes out as SSE `syncStatus`. So a page's badge follows the
 * remote without any page polling the server, and the remote costs one request per interval
 * whatever the number of open pages.
 */
export class RemoteWatch {
  private stop: (() => void) | undefined;
  private checking = false;
  private last: string | undefined;

  constructor(private readonly deps: RemoteWatchDeps) {}

  /** Checks every `ms` (0 = never). */
  start(ms: number): void {
    this.close();
    if (ms > 0) this.stop = this.deps.timers.every(ms, () => void this.check());
  }

  close(): void {
    this.stop?.();
    this.stop = undefined;
  }

  /** One check; announces the status when it differs from the last one announced (or seen). */
  async check(): Promise<void> {
    if (this.checking || !this.deps.active() || this.deps.busy()) return;
    this.checking = true;
    try {
      const status = await this.deps.status();
      const key = JSON.stringify([status.remote_version, status.local_version, status.needs_sync, status.unsynced_count, status.remote_error]);
      if (key === this.last) return;
      this.last = key;
      this.deps.announce(status);
    } catch {
      // status() reports remote problems in `remote_error`; anything else waits for the next tick.
    } finally {
      this.checking = false;
    }
  }
}
