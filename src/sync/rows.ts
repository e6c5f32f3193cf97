/** How rows move between the local table and the shared state, and how a commit recognises them. */
import { createHash } from 'node:crypto';
import type { FileRecord } from '../domain/file.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import type { RemoteSnapshot } from '../remote/remote-snapshot.ts';

/** The local row a pulled remote row becomes: synced, based on the remote version. */
export function fromRemote(remote: RemoteFileRow, localModifiedAt: string): FileRecord {
  const { version, ...fields } = remote;
  return {
    ...fields,
    stable_id: remote.stable_id as FileRecord['stable_id'],
    deleted: false,
    local_modified_at: localModifiedAt,
    sync_status: 'synced',
    sync_hash: remote.hash,
    remote_version: version,
  };
}

/** The commits the remote remembers, by version (the last is the snapshot's own). */
export function historyOf(snapshot: RemoteSnapshot): Map<number, string> {
  const recent = snapshot.recentCommits;
  return new Map(recent.map((commit, i) => [snapshot.version - (recent.length - 1 - i), commit]));
}

/** The remote row a pushed local row becomes, stamped with the commit's version. */
export function toRemote(local: FileRecord, version: number): RemoteFileRow {
  return {
    stable_id: local.stable_id,
    hash: local.hash,
    filename: local.filename,
    file_type: local.file_type,
    mime_type: local.mime_type,
    size: local.size,
    doc_id: local.doc_id,
    collections: local.collections,
    labels: local.labels,
    metadata: local.metadata,
    deleted: local.deleted,
    created_at: local.created_at,
    updated_at: local.updated_at,
    version,
  };
}

/** Whether a row is still as it was planned (the user may edit during a sync). */
export function unchangedSince(current: FileRecord | undefined, planned: FileRecord): boolean {
  return (
    current !== undefined &&
    current.local_modified_at === planned.local_modified_at &&
    current.sync_status === planned.sync_status &&
    current.hash === planned.hash &&
    current.deleted === planned.deleted &&
    current.remote_version === planned.remote_version
  );
}

/** A digest of everything a commit publishes of a row: equal means "as pushed". */
export function fingerprint(file: FileRecord): string {
  return createHash('sha256').update(JSON.stringify(toRemote(file, 0))).digest('base64url');
}
