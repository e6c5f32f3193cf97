import mime from 'mime-types';
import type { StableId } from './ids.ts';

export const SYNC_STATUSES = ['synced', 'modified', 'pending_delete', 'conflict'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** A file row (docs/design.md#local-data-model). JSON columns are parsed. */
export interface FileRecord {
  stable_id: StableId;
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
  /** Content hash at the last successful sync; `hash === sync_hash` means "content unchanged". */
  sync_hash: string | null;
  /** Remote version of this row at the last sync: the three-way merge base. */
  remote_version: number | null;
}

/** The fields a person may change without touching content. */
export interface MetadataPatch {
  filename?: string;
  collections?: string[];
  labels?: string[];
  metadata?: Record<string, unknown>;
  doc_id?: string | null;
}

/** Extensions made of two parts that name a document class of their own. */
const COMPOUND_TYPES = ['tei.xml', 'tar.gz'];

/**
 * The extension class of a filename: `pdf`, `tei.xml`, `xml`, `txt`, … or `bin` when the name has
 * no usable extension. It also forms the blob's file extension, so it is restricted to [a-z0-9.].
 */
export function fileTypeOf(filename: string): string {
  const lower = filename.toLowerCase();
  for (const compound of COMPOUND_TYPES) if (lower.endsWith(`.${compound}`)) return compound;
  const match = /\.([a-z0-9]{1,16})$/.exec(lower);
  return match?.[1] ?? 'bin';
}

/**
 * The MIME type of a file, derived here from its name only: never taken from an uploader's part
 * header or a remote row, so no one else decides how a browser treats the bytes.
 */
export function mimeTypeOf(filename: string): string {
  return mime.lookup(filename) || 'application/octet-stream';
}

/** A file made on this instance (an upload, a recovered blob): never synced, so `modified`. */
export function newLocalFile(
  fields: Pick<FileRecord, 'stable_id' | 'hash' | 'filename' | 'file_type' | 'size'> &
    Partial<Pick<FileRecord, 'doc_id' | 'collections' | 'labels' | 'metadata'>>,
  now: string,
): FileRecord {
  return {
    doc_id: null,
    collections: [],
    labels: [],
    metadata: {},
    ...fields,
    mime_type: mimeTypeOf(fields.filename),
    deleted: false,
    created_at: now,
    updated_at: now,
    local_modified_at: now,
    sync_status: 'modified',
    sync_hash: null,
    remote_version: null,
  };
}

/** Sync status after a local change: a conflict stays a conflict until it is resolved. */
export function statusAfterLocalChange(current: SyncStatus): SyncStatus {
  return current === 'conflict' ? 'conflict' : 'modified';
}

/** Sync status after a local delete: the tombstone is pushed, unless the row is in conflict. */
export function statusAfterLocalDelete(current: SyncStatus): SyncStatus {
  return current === 'conflict' ? 'conflict' : 'pending_delete';
}

/** Trims, drops empties and duplicates, keeps first-seen order. */
export function normalizeTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const tag of tags) {
    const t = tag.trim();
    if (t !== '') seen.add(t);
  }
  return [...seen];
}

/** Limits on what a person can store as metadata; enforced for the HTTP API and the CLI alike. */
export const LIMITS = {
  filenameLength: 255,
  tagLength: 200,
  tagCount: 100,
  docIdLength: 200,
  metadataBytes: 64 * 1024,
  metadataDepth: 32,
} as const;

// Control characters (NUL included) are never part of a name; everything else is data, `/` and `..` too.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Problems with a filename, as a message naming the field, or undefined when it is acceptable. */
export function filenameProblem(filename: string): string | undefined {
  if (filename.trim() === '') return 'filename must not be empty';
  if ([...filename].length > LIMITS.filenameLength) return `filename must be at most ${LIMITS.filenameLength} characters`;
  if (CONTROL_CHARS.test(filename)) return 'filename must not contain control characters (NUL, newline, …)';
  return undefined;
}

export function tagsProblem(field: 'collections' | 'labels', tags: readonly string[]): string | undefined {
  if (tags.length > LIMITS.tagCount) return `${field} must have at most ${LIMITS.tagCount} entries`;
  for (const tag of tags) {
    if (typeof tag !== 'string') return `${field} must be an array of strings`;
    if ([...tag].length > LIMITS.tagLength) return `${field} entries must be at most ${LIMITS.tagLength} characters`;
    if (CONTROL_CHARS.test(tag)) return `${field} entries must not contain control characters`;
  }
  return undefined;
}

export function docIdProblem(docId: string | null): string | undefined {
  if (docId === null) return undefined;
  if (docId.trim() === '' || docId.length > LIMITS.docIdLength) return `doc_id must be 1-${LIMITS.docIdLength} characters`;
  if (CONTROL_CHARS.test(docId)) return 'doc_id must not contain control characters';
  return undefined;
}

export function metadataProblem(metadata: unknown): string | undefined {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return 'metadata must be a JSON object';
  if (depthOf(metadata) > LIMITS.metadataDepth) return `metadata must be nested at most ${LIMITS.metadataDepth} levels deep`;
  if (Buffer.byteLength(JSON.stringify(metadata)) > LIMITS.metadataBytes) {
    return `metadata must be at most ${LIMITS.metadataBytes} bytes as JSON`;
  }
  return undefined;
}

/** Nesting depth of a JSON value, measured without recursion (a hostile value may be thousands deep). */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > LIMITS.metadataDepth) return deepest;
    for (const child of Object.values(current as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** A content address: sha256 as 64 lowercase hex digits (it names the blob's path). */
export function hashProblem(hash: unknown): string | undefined {
  return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash) ? undefined : 'hash must be 64 lowercase hex digits (sha256)';
}

/**
 * A file type is one `fileTypeOf` can give, since it forms the blob's extension and so its path.
 * It need not be the one the current filename gives: a rename keeps the content, so its blob and type.
 */
export function fileTypeProblem(fileType: unknown): string | undefined {
  if (typeof fileType === 'string' && (COMPOUND_TYPES.includes(fileType) || /^[a-z0-9]{1,16}$/.test(fileType))) return undefined;
  return 'file_type must be an extension class such as pdf, tei.xml or bin';
}

export function sizeProblem(size: unknown): string | undefined {
  return Number.isSafeInteger(size) && (size as number) >= 0 ? undefined : 'size must be a non-negative integer';
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Timestamps are UTC ISO-8601 with a trailing `Z` (what `isoUtc` writes): they are compared as text. */
export function timestampProblem(field: string, value: unknown): string | undefined {
  if (typeof value === 'string' && ISO_UTC.test(value) && Number.isFinite(Date.parse(value))) return undefined;
  return `${field} must be an ISO-8601 UTC timestamp`;
}
