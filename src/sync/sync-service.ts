import type { Config } from '../config.ts';
import { describeRemote } from '../config.ts';
import type { StableId } from '../domain/ids.ts';
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
} as const;

/**
 * The sync routes' service. This build has no sync engine yet (it arrives with the remote tier):
 * status, conflicts and resolution answer from the local database, and a sync request says plainly
 * why it cannot run.
 */
export class SyncService {
  constructor(
    private readonly config: Config,
    private readonly files: SqliteFileRepository,
    private readonly state: SyncStateStore,
  ) {}

  get remoteConfigured(): boolean {
    return this.config.remote.kind !== 'none';
  }

  /** Answers from two primary-key reads: no scan, whatever the number of files. */
  status(): SyncStatusReport {
    const unsynced = this.files.unsyncedCount();
    const lastVersion = this.state.get(SYNC_STATE_KEYS.lastRemoteVersion);
    return {
      needs_sync: this.remoteConfigured && unsynced > 0,
      local_version: lastVersion === undefined ? null : Number(lastVersion),
      remote_version: null,
      unsynced_count: unsynced,
      last_sync_time: this.state.get(SYNC_STATE_KEYS.lastSyncTime) ?? null,
      sync_in_progress: false,
      remote_configured: this.remoteConfigured,
      remote: describeRemote(this.config.remote),
    };
  }

  sync(): never {
    if (!this.remoteConfigured) {
      throw new ConflictError(
        'no_remote',
        'No remote is configured, so there is nothing to sync with: this instance runs standalone. ' +
          'Set WEBDAV_BASE_URL (a WebDAV server) or DOCSYNC_REMOTE=file:///path (a shared folder).',
      );
    }
    throw new ConflictError(
      'sync_unavailable',
      `A remote is configured (${describeRemote(this.config.remote)}), but this build of docsync has no sync engine yet.`,
    );
  }

  conflicts(): ConflictInfo[] {
    return this.files
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
    const file = this.files.get(fileId);
    if (!file) throw new NotFoundError(`No file with id '${fileId}'`);
    throw new ConflictError('not_in_conflict', `File '${fileId}' is not in conflict (sync status: ${file.sync_status})`);
  }
}
