import type { FileRecord } from '../domain/file.ts';
import type { ConflictType } from '../domain/conflict.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';


/** What one sync does with one file. Pure data: the engine carries it out. */
export type PlanAction =
  /** Local change to the remote. `content`: the blob is new to this row (else metadata only). */
  | { kind: 'push'; local: FileRecord; remote: RemoteFileRow | undefined; content: boolean }
  /** A local deletion to the remote as a tombstone. */
  | { kind: 'push_delete'; local: FileRecord; remote: RemoteFileRow | undefined }
  /** Remote change to the local store. `content`: the local row lacks this content. */
  | { kind: 'pull'; remote: RemoteFileRow; local: FileRecord | undefined; content: boolean }
  /** A remote tombstone applied locally (a soft delete that is already synced: never pushed back). */
  | { kind: 'delete_local'; local: FileRecord; remote: RemoteFileRow }
  /** Both sides already agree: only the local bookkeeping moves. */
  | { kind: 'mark_synced'; local: FileRecord; remote: RemoteFileRow | undefined }
  /** Both sides changed differently: nothing moves for this file until a person decides. */
  | { kind: 'conflict'; type: ConflictType; local: FileRecord; remote: RemoteFileRow };

/**
 * Three-way decision for one file (docs/design.md#sync): the local row, the remote row, and the base — the
 * remote version the local row last synced with (`local.remote_version`).
 * Local changed = `sync_status` is `modified` or `pending_delete`; remote changed = its version is
 * newer than the base. Only local → push; only remote → pull; both → conflict, unless both sides
 * hold the same state. A file already in conflict stays out of the sync until it is resolved.
 */
export function planFile(local: FileRecord | undefined, remote: RemoteFileRow | undefined): PlanAction | undefined {
  if (!local) return remote && !remote.deleted ? { kind: 'pull', remote, local: undefined, content: true } : undefined;
  if (local.sync_status === 'conflict') return undefined;
  const localChanged = local.sync_status === 'modified' || local.sync_status === 'pending_delete';
  if (!remote) {
    if (!localChanged) return undefined;
    // A tombstone of a file the remote never had: nothing to tell anyone. One of a file the remote
    // had and lost (a commit replaced): published, so no other copy of the file brings it back.
    if (local.deleted) return local.remote_version === null ? { kind: 'mark_synced', local, remote: undefined } : { kind: 'push_delete', local, remote: undefined };
    return { kind: 'push', local, remote: undefined, content: true };
  }
  const remoteChanged = local.remote_version === null || remote.version > local.remote_version;
  if (!localChanged && !remoteChanged) return undefined;

  if (localChanged && !remoteChanged) {
    if (local.deleted) return remote.deleted ? { kind: 'mark_synced', local, remote } : { kind: 'push_delete', local, remote };
    // Over a tombstone (a deletion undone: local_wins, a restore) the blob may be gone from the
    // remote (its GC): the content goes up again unless a live row names it.
    return { kind: 'push', local, remote, content: remote.deleted || local.hash !== remote.hash };
  }
  if (!localChanged) {
    if (remote.deleted) return local.deleted ? { kind: 'mark_synced', local, remote } : { kind: 'delete_local', local, remote };
    // A synced tombstone may have given up its blob: reviving it needs the content again.
    return { kind: 'pull', remote, local, content: local.deleted || local.hash !== remote.hash };
  }
  // Both changed.
  if (local.deleted && remote.deleted) return { kind: 'mark_synced', local, remote };
  if (!local.deleted && !remote.deleted && sameState(local, remote)) return { kind: 'mark_synced', local, remote };
  if (local.deleted) return { kind: 'conflict', type: 'deleted_local', local, remote };
  if (remote.deleted) return { kind: 'conflict', type: 'deleted_remote', local, remote };
  return { kind: 'conflict', type: 'modified_both', local, remote };
}

export interface SyncPlan {
  actions: PlanAction[];
}

/** Plans every file that changed on either side. Ids present on one side only are planned too. */
export function planSync(locals: ReadonlyMap<string, FileRecord>, remotes: ReadonlyMap<string, RemoteFileRow>): SyncPlan {
  const ids = new Set([...locals.keys(), ...remotes.keys()]);
  const actions: PlanAction[] = [];
  for (const id of [...ids].sort()) {
    const action = planFile(locals.get(id), remotes.get(id));
    if (action) actions.push(action);
  }
  return { actions };
}

/**
 * Same content and the same shareable metadata. The MIME type is left out: every instance derives it
 * from the filename (rows stored by older builds may hold another), so it adds nothing to compare.
 */
export function sameState(local: FileRecord, remote: RemoteFileRow): boolean {
  return (
    local.hash === remote.hash &&
    local.deleted === remote.deleted &&
    local.filename === remote.filename &&
    local.file_type === remote.file_type &&
    local.doc_id === remote.doc_id &&
    JSON.stringify(local.collections) === JSON.stringify(remote.collections) &&
    JSON.stringify(local.labels) === JSON.stringify(remote.labels) &&
    canonicalJson(local.metadata) === canonicalJson(remote.metadata)
  );
}

/** JSON with sorted keys: `{a,b}` and `{b,a}` are the same metadata. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
