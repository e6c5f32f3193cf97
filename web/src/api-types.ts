/**
 * The JSON the page exchanges with docsync (README "HTTP API", src/http/schemas.ts, docs/design.md#events-sse).
 * Written out here so the bundle imports nothing from the server; test/browser/api-types.test.ts
 * checks at compile time that these stay equal to the server's schemas.
 */

export type SyncStatus = 'synced' | 'modified' | 'pending_delete' | 'conflict';

export interface DocFile {
  stable_id: string;
  hash: string;
  filename: string;
  file_type: string;
  mime_type: string;
  size: number;
  doc_id: string | null;
  collections: string[];
  labels: string[];
  metadata: Record<string, unknown>;
  deleted: boolean;
  created_at: string;
  updated_at: string;
  local_modified_at: string;
  sync_status: SyncStatus;
  sync_hash: string | null;
  remote_version: number | null;
}

export type FileSort = 'name' | 'size' | 'modified' | 'type';

/** Many files: explicit ids, or every live file matching a filter minus some (`POST /files/bulk`, `/files/zip`). */
export type Selection = { ids: string[] } | { filter: { collection?: string; label?: string; q?: string }; except: string[] };

export interface BulkAction {
  action: 'delete' | 'add_labels' | 'remove_labels' | 'add_collections' | 'remove_collections';
}

export interface BulkReport {
  done: number;
  failed: number;
  failures: Array<{ id: string; error: string; message: string }>;
}

export interface FileList {
  files: DocFile[];
  total: number;
  next_cursor: string | null;
}

/** One version of a file, as `GET /files/:id/history` lists it (docs/design.md#history-trash-and-garbage-collection). */
export interface FileVersion {
  version: number;
  committed_at: string;
  instance_id: string;
  filename: string;
  hash: string;
  size: number;
  file_type: string;
  collections: string[];
  labels: string[];
  doc_id: string | null;
  deleted: boolean;
  current: boolean;
}

export interface FileHistory {
  versions: FileVersion[];
}

export interface TrashList {
  files: DocFile[];
  next_cursor: string | null;
}

export interface FileFilters {
  collection: string;
  label: string;
  q: string;
}

export interface LoginAnswer {
  sessionId: string;
  username: string;
  expires_at: string;
}

export interface RemoteStatus {
  needs_sync: boolean;
  local_version: number | null;
  remote_version: number | null;
  unsynced_count: number;
  last_sync_time: string | null;
  sync_in_progress: boolean;
  remote_configured: boolean;
  remote: string;
  remote_error: string | null;
  remote_capabilities: {
    conditionalPut: boolean;
    ifMatch: boolean;
    exclusiveMkcol: boolean;
    etagChangesOnWrite: boolean;
    probed_at: string;
  } | null;
  lock_atomic: boolean | null;
}

export interface SyncSummary {
  skipped: boolean;
  uploaded: number;
  downloaded: number;
  deleted_local: number;
  deleted_remote: number;
  metadata_synced: number;
  conflicts: number;
  errors: number;
  skipped_rows: number;
  new_version: number | null;
  duration_ms: number;
  message: string;
  bytes_uploaded: number;
  bytes_downloaded: number;
}

export type ConflictType = 'modified_both' | 'deleted_remote' | 'deleted_local';

export interface Conflict {
  file_id: string;
  stable_id: string;
  filename: string;
  doc_id: string | null;
  conflict_type: ConflictType;
  local_modified_at: string;
  local_hash: string;
  local_deleted: boolean;
  remote_modified_at: string | null;
  remote_hash: string | null;
  remote_deleted: boolean;
  remote_filename: string;
  remote_collections: string[];
  remote_labels: string[];
}

export interface ConflictList {
  conflicts: Conflict[];
  total: number;
}

export type Resolution = 'local_wins' | 'remote_wins' | 'keep_both' | 'merge';

/** `merge`: where each field comes from (tags: `both` = the union). */
export interface MergeFields {
  filename?: 'local' | 'remote';
  doc_id?: 'local' | 'remote';
  metadata?: 'local' | 'remote';
  content?: 'local' | 'remote';
  collections?: 'local' | 'remote' | 'both';
  labels?: 'local' | 'remote' | 'both';
}

export type ConflictField = 'filename' | 'content' | 'collections' | 'labels' | 'doc_id' | 'metadata';

export interface ConflictSide {
  deleted: boolean;
  filename: string;
  file_type: string;
  mime_type: string;
  size: number;
  hash: string;
  doc_id: string | null;
  collections: string[];
  labels: string[];
  metadata: Record<string, unknown>;
  modified_at: string;
  instance_id: string | null;
  version: number | null;
}

export interface ConflictDetail {
  file_id: string;
  conflict_type: ConflictType;
  detected_at: string;
  local: ConflictSide;
  remote: ConflictSide | null;
  remote_problem: string | null;
  differences: ConflictField[];
}

export interface ResolutionAnswer {
  stable_id: string;
  resolution: string;
  copy_id: string | null;
  message: string;
}

/** Every API error: `{error, message, statusCode}`. */
export interface ApiErrorBody {
  error: string;
  message: string;
  statusCode: number;
}

export interface SyncProgress {
  phase: string;
  /** 0–100 over the whole sync. */
  percent: number;
  done: number;
  total: number;
  bytes: number;
  /** Content bytes of the current transfer phase: moved, and to move (0 outside transfers). */
  phase_bytes: number;
  phase_bytes_total: number;
}

/** SSE event name → its `data` (docs/design.md#events-sse). */
export interface ServerEvents {
  connected: unknown;
  syncProgress: SyncProgress;
  syncMessage: { message: string };
  syncComplete: SyncSummary;
  syncError: { code: string; message: string };
  conflict: { stable_id: string; filename: string; conflict_type: ConflictType };
  fileDataChanged: { reason: string; new_version: number | null };
  /** The server's background status check saw a change (a new remote version, an outage). */
  syncStatus: RemoteStatus;
  missed: unknown;
}
