import type { GcReport } from './remote-gc.ts';
import type { ConflictType } from '../domain/conflict.ts';

/** In the order a sync goes through them. */
export const SYNC_PHASES = ['checking', 'locking', 'metadata', 'planning', 'downloading', 'applying', 'uploading', 'committing', 'done'] as const;
export type SyncPhase = (typeof SYNC_PHASES)[number];

/** Progress of one sync, as SSE `syncProgress` carries it (docs/design.md#events-sse). */
export interface SyncProgress {
  phase: SyncPhase;
  /** 0–100 over the whole sync. */
  percent: number;
  /** Files done / total in the current phase. */
  done: number;
  total: number;
  /** Content bytes moved so far (both directions). */
  bytes: number;
  /** Content bytes of the current transfer phase (`downloading`, `uploading`): moved and to move; 0 in other phases. */
  bytes_done: number;
  bytes_total: number;
}

/** The answer of `POST /sync` (README.md#http-api), plus the bytes that moved. */
export interface SyncSummary {
  skipped: boolean;
  uploaded: number;
  downloaded: number;
  deleted_local: number;
  deleted_remote: number;
  metadata_synced: number;
  conflicts: number;
  errors: number;
  /** Remote rows left out because they failed the checks (docs/design.md#untrusted-remotes); the message says which and why. */
  skipped_rows: number;
  new_version: number | null;
  duration_ms: number;
  message: string;
  bytes_uploaded: number;
  bytes_downloaded: number;
  /** Whether local files changed (SSE `fileDataChanged`). */
  local_changed: boolean;
  /** The remote garbage collection this sync ran after its commit, if one was due (docs/design.md#history-trash-and-garbage-collection). */
  gc?: GcReport;
}

/** What the engine tells the world while it runs. */
export interface SyncListener {
  progress?(progress: SyncProgress): void;
  message?(text: string): void;
  conflict?(conflict: { stable_id: string; filename: string; conflict_type: ConflictType }): void;
}

export function emptySummary(): SyncSummary {
  return {
    skipped: false,
    uploaded: 0,
    downloaded: 0,
    deleted_local: 0,
    deleted_remote: 0,
    metadata_synced: 0,
    conflicts: 0,
    errors: 0,
    skipped_rows: 0,
    new_version: null,
    duration_ms: 0,
    message: '',
    bytes_uploaded: 0,
    bytes_downloaded: 0,
    local_changed: false,
  };
}

/**
 * Everything the sync service announces, for SSE (docs/design.md#events-sse). `origin` is the session that asked for
 * the sync (progress goes to it); events without one are for everybody.
 */
export type SyncEvent =
  | { type: 'syncProgress'; origin: string | undefined; data: SyncProgress }
  | { type: 'syncMessage'; origin: string | undefined; data: { message: string } }
  | { type: 'syncComplete'; origin: string | undefined; data: SyncSummary }
  | { type: 'syncError'; origin: string | undefined; data: { code: string; message: string } }
  | { type: 'conflict'; origin: string | undefined; data: { stable_id: string; filename: string; conflict_type: ConflictType } }
  | { type: 'fileDataChanged'; origin: undefined; data: { reason: 'sync'; new_version: number | null } };
