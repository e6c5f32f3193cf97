import type { ConflictType } from '../domain/conflict.ts';
import type { FileRecord } from '../domain/file.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import type { StoredConflict } from '../store/conflict-repository.ts';

/** The fields a person compares in a conflict, in the order the page shows them. */
export const CONFLICT_FIELDS = ['filename', 'content', 'collections', 'labels', 'doc_id', 'metadata'] as const;
export type ConflictField = (typeof CONFLICT_FIELDS)[number];

/** One side of a conflict: the file as it is on that side, with when and where it was changed. */
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
  /** The instance that made this side (the remote side: the commit's author, when this instance saw that commit). */
  instance_id: string | null;
  /** The remote version of this side (the remote side only). */
  version: number | null;
}

/** `GET /sync/conflicts/:id`: both sides in full and the fields where they differ. */
export interface ConflictDetail {
  file_id: string;
  conflict_type: ConflictType;
  detected_at: string;
  local: ConflictSide;
  /** Null when the stored remote side is unreadable (`remote_problem` says why; only local_wins resolves it). */
  remote: ConflictSide | null;
  remote_problem: string | null;
  /** The fields whose values differ (all of them when one side is missing). */
  differences: ConflictField[];
}

/** Who committed a row version, when this instance recorded that commit. */
export type CommitAuthor = (stableId: string, version: number) => { instance_id: string; committed_at: string } | undefined;

export function conflictDetail(local: FileRecord, stored: StoredConflict, instanceId: string, authorOf: CommitAuthor): ConflictDetail {
  const localSide = sideOf(local, local.local_modified_at, instanceId, null);
  const remote = stored.remote;
  const author = remote && authorOf(remote.stable_id, remote.version);
  const remoteSide = remote ? sideOf(remote, remote.updated_at, author?.instance_id ?? null, remote.version) : null;
  return {
    file_id: local.stable_id,
    conflict_type: stored.conflict_type,
    detected_at: stored.detected_at,
    local: localSide,
    remote: remoteSide,
    remote_problem: stored.remote_problem ?? null,
    differences: remoteSide ? CONFLICT_FIELDS.filter((field) => !sameField(field, localSide, remoteSide)) : [...CONFLICT_FIELDS],
  };
}

function sideOf(row: FileRecord | RemoteFileRow, modifiedAt: string, instanceId: string | null, version: number | null): ConflictSide {
  return {
    deleted: row.deleted,
    filename: row.filename,
    file_type: row.file_type,
    mime_type: row.mime_type,
    size: row.size,
    hash: row.hash,
    doc_id: row.doc_id,
    collections: row.collections,
    labels: row.labels,
    metadata: row.metadata,
    modified_at: modifiedAt,
    instance_id: instanceId,
    version,
  };
}

function sameField(field: ConflictField, a: ConflictSide, b: ConflictSide): boolean {
  switch (field) {
    case 'content':
      return a.hash === b.hash && a.file_type === b.file_type;
    case 'collections':
    case 'labels':
      // Order is not a difference a person can see or needs to judge.
      return sameSet(a[field], b[field]);
    case 'metadata':
      return canonical(a.metadata) === canonical(b.metadata);
    default:
      return a[field] === b[field];
  }
}

function sameSet(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return a.length === b.length && b.every((tag) => set.has(tag));
}

/** JSON with sorted keys, so `{a, b}` and `{b, a}` are the same metadata. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}
