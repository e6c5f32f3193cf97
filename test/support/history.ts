import type { FileRecord } from '../../src/domain/file.ts';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import type { CommitInfo } from '../../src/store/history-repository.ts';

/** The shared row a commit would carry for a local file, at `version`. */
export function sharedRowOf(file: FileRecord, version: number): RemoteFileRow {
  return {
    stable_id: file.stable_id,
    hash: file.hash,
    filename: file.filename,
    file_type: file.file_type,
    mime_type: file.mime_type,
    size: file.size,
    doc_id: file.doc_id,
    collections: file.collections,
    labels: file.labels,
    metadata: file.metadata,
    deleted: file.deleted,
    created_at: file.created_at,
    updated_at: file.updated_at,
    version,
  };
}

export function commitInfo(version: number, committedAt: string, instanceId = 'instance-1'): CommitInfo {
  return { version, commit: `commit-${version}`, committed_at: committedAt, instance_id: instanceId };
}
