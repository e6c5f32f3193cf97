import type { Config } from '../config.ts';
import { describeRemote } from '../config.ts';
import { isoUtc, type Clock } from '../domain/clock.ts';
import type { IdSource, StableId } from '../domain/ids.ts';
import { probeCapabilities, type RemoteCapabilities } from '../remote/capabilities.ts';
import type { RemoteMetadataStore } from '../remote/remote-metadata.ts';
import type { Remote } from '../remote/remote.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import type { SyncStateStore } from '../store/sync-state.ts';

export const RESOLUTIONS = ['local_wins', 'remote_wins', 'keep_both'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface SyncStatusReport {
  needs_sync: boolean;
  local_version: number | null;
  remote_version: number | null;
  unsynced_count: number;
  last_sync_time: string | null;
  sync_in_progress: boolean;
  remote_configured: boolean;
  /** Where the remote is, without credentials. */
  remote: string;
  /** Why the remote could not be read, when it could not (unreachable, refused, corrupt). */
  remote_error: string | null;
  /** What the server honours, probed on first contact; null until then. */
  remote_capabilities: RemoteCapabilities | null;
  /** Whether the sync lock gives mutual exclusion on this server (MKCOL with one winner). */
  lock_atomic: boolean | null;
}

export interface ConflictInfo {
  file_id: StableId;
  stable_id: StableId;
  filename: string;
  doc_id: string | null;
  conflict_type: string;
  local_modified_at: string;
  local_hash: string;
  remote_modified_at: string | null;
  remote_hash: string | null;
}

/** Keys of the per-instance sync state (SPEC §1). */
export const SYNC_STATE_KEYS = {
  instanceId: 'instance_id',
  lastRemoteVersion: 'last_remote_version',
  lastSyncTime: 'last_sync_time',
  /** JSON `{remote, capabilities}`: re-probed when the remote's address changes. */
  capabilities: 'remote_capabilities',
} as const;

export interface SyncServiceDeps {
  config: Config;
  files: SqliteFileRepository;
  state: SyncStateStore;
  remote: Remote | undefined;
  metadata: RemoteMetadataStore | undefined;
  clock: Clock;
  ids: IdSource;
}

/**
 * The sync routes' service. The sync engine itself arrives with issue 4: until then a sync request
 * says plainly why it cannot run, while status, conflicts and resolution work.
 */
export class SyncService {
  constructor(private readonly deps: SyncServiceDeps) {}

  get remoteConfigured(): boolean {
    return this.deps.remote !== undefined;
  }

  /**
   * Local counters (no scan) plus one small remote read, `version.txt`. The first contact with a
   * remote also probes what the server honours; the answer is remembered.
   */
  async status(): Promise<SyncStatusReport> {
    const { files, state, config } = this.deps;
    const unsynced = files.unsyncedCount();
    const lastVersion = state.get(SYNC_STATE_KEYS.lastRemoteVersion);
    const localVersion = lastVersion === undefined ? null : Number(lastVersion);
    const report: SyncStatusReport = {
      needs_sync: false,
      local_version: localVersion,
      remote_version: null,
      unsynced_count: unsynced,
      last_sync_time: state.get(SYNC_STATE_KEYS.lastSyncTime) ?? null,
      sync_in_progress: false,
      remote_configured: this.remoteConfigured,
      remote: describeRemote(config.remote),
      remote_error: null,
      remote_capabilities: null,
      lock_atomic: null,
    };
    if (!this.deps.metadata) return report;
    try {
      const head = await this.deps.metadata.readHead();
      report.remote_version = head?.version ?? 0;
      report.remote_capabilities = await this.capabilities();
      report.lock_atomic = report.remote_capabilities.exclusiveMkcol;
    } catch (error) {
      report.remote_error = error instanceof Error ? error.message : String(error);
    }
    report.needs_sync = unsynced > 0 || (report.remote_version !== null && report.remote_version !== (localVersion ?? 0));
    return report;
  }

  /** The remembered capabilities of the configured remote, probing it the first time. */
  async capabilities(): Promise<RemoteCapabilities> {
    const { state, remote, config, clock, ids } = this.deps;
    if (!remote) throw new ConflictError('no_remote', 'No remote is configured');
    const where = describeRemote(config.remote);
    const cached = state.get(SYNC_STATE_KEYS.capabilities);
    if (cached) {
      const parsed = JSON.parse(cached) as { remote: string; capabilities: RemoteCapabilities };
      if (parsed.remote === where) return parsed.capabilities;
    }
    const capabilities = await probeCapabilities(remote, ids, isoUtc(clock.now()));
    state.set(SYNC_STATE_KEYS.capabilities, JSON.stringify({ remote: where, capabilities }));
    return capabilities;
  }

  sync(): never {
    const { config } = this.deps;
    if (!this.remoteConfigured) {
      throw new ConflictError(
        'no_remote',
        'No remote is configured, so there is nothing to sync with: this instance runs standalone. ' +
          'Set WEBDAV_BASE_URL (a WebDAV server) or DOCSYNC_REMOTE=file:///path (a shared folder).',
      );
    }
    throw new ConflictError(
      'sync_unavailable',
      `A remote is configured (${describeRemote(config.remote)}), but this build of docsync has no sync engine yet.`,
    );
  }

  conflicts(): ConflictInfo[] {
    return this.deps.files
      .list({ includeDeleted: true, limit: 10_000, status: 'conflict' })
      .files.map((file) => ({
        file_id: file.stable_id,
        stable_id: file.stable_id,
        filename: file.filename,
        doc_id: file.doc_id,
        conflict_type: 'modified_both',
        local_modified_at: file.local_modified_at,
        local_hash: file.hash,
        remote_modified_at: null,
        remote_hash: null,
      }));
  }

  resolveConflict(fileId: string, resolution: string): never {
    if (!(RESOLUTIONS as readonly string[]).includes(resolution)) {
      throw new BadRequestError(`resolution must be one of ${RESOLUTIONS.join(', ')}, got '${resolution}'`);
    }
    const file = this.deps.files.get(fileId);
    if (!file) throw new NotFoundError(`No file with id '${fileId}'`);
    throw new ConflictError('not_in_conflict', `File '${fileId}' is not in conflict (sync status: ${file.sync_status})`);
  }
}
