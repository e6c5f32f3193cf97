import {
  docIdProblem,
  filenameProblem,
  fileTypeProblem,
  hashProblem,
  LIMITS,
  metadataProblem,
  mimeTypeOf,
  sizeProblem,
  tagsProblem,
  timestampProblem,
  type FileRecord,
} from './file.ts';
import { stableIdProblem } from './ids.ts';

/** The fields of a file every instance shares (docs/design.md#remote-layout-format-2): no local sync bookkeeping. */
export type SharedFileFields = Pick<
  FileRecord,
  'hash' | 'filename' | 'file_type' | 'mime_type' | 'size' | 'doc_id' | 'collections' | 'labels' | 'metadata' | 'deleted' | 'created_at' | 'updated_at'
>;

/** One row of the shared `files` table: the shareable fields of a file, its tombstone flag, its version. */
export interface SharedRow extends SharedFileFields {
  stable_id: string;
  /** The remote version at which this row last changed. */
  version: number;
}

/** A row of the remote's shared `files` table, as the sync sees it. */
export type RemoteFileRow = SharedRow;

/** A row that failed the checks: skipped, and reported by this printable id and reason. */
export interface RejectedRow {
  /** The row's stable_id as found, escaped and shortened: safe in a message or a log line. */
  id: string;
  problem: string;
}

export type RowReading = { ok: true; row: SharedRow } | { ok: false; rejected: RejectedRow };

/** Longest JSON text parsed from one column (every character escaped as `\uXXXX`, at the limits). */
const MAX_JSON_TEXT = 6 * LIMITS.metadataBytes;

/**
 * Checks a row someone else wrote (docs/design.md#untrusted-remotes: rows are input) with the same field rules as
 * the API: a value that passes can be stored, listed, read, deleted, and never becomes a path.
 * JSON fields are already decoded here (`collections` is an array); the values are of any type.
 */
export function sharedRowProblem(row: Readonly<Record<string, unknown>>): string | undefined {
  const { filename } = row;
  return (
    stableIdProblem(row.stable_id) ??
    hashProblem(row.hash) ??
    (typeof filename === 'string' ? filenameProblem(filename) : 'filename must be a string') ??
    fileTypeProblem(row.file_type) ??
    sizeProblem(row.size) ??
    (row.doc_id === null || typeof row.doc_id === 'string' ? docIdProblem(row.doc_id) : 'doc_id must be a string or null') ??
    tagListProblem('collections', row.collections) ??
    tagListProblem('labels', row.labels) ??
    metadataProblem(row.metadata) ??
    (typeof row.deleted === 'boolean' ? undefined : 'deleted must be a boolean') ??
    timestampProblem('created_at', row.created_at) ??
    timestampProblem('updated_at', row.updated_at) ??
    (Number.isSafeInteger(row.version) && (row.version as number) >= 1 ? undefined : 'version must be a positive integer')
  );
}

/**
 * A decoded row, checked, as a typed row. Its MIME type is never taken from it: it is derived here
 * from the filename, as for a file uploaded through the API.
 */
export function readSharedRow(row: Readonly<Record<string, unknown>>): RowReading {
  const problem = sharedRowProblem(row);
  if (problem !== undefined) return { ok: false, rejected: { id: printableId(row.stable_id), problem } };
  const checked = row as unknown as SharedRow;
  return {
    ok: true,
    row: {
      stable_id: checked.stable_id,
      hash: checked.hash,
      filename: checked.filename,
      file_type: checked.file_type,
      mime_type: mimeTypeOf(checked.filename),
      size: checked.size,
      doc_id: checked.doc_id,
      collections: checked.collections,
      labels: checked.labels,
      metadata: checked.metadata,
      deleted: checked.deleted,
      created_at: checked.created_at,
      updated_at: checked.updated_at,
      version: checked.version,
    },
  };
}

/** The fields a table stores in another form than the row holds them. */
type EncodedFields = 'collections' | 'labels' | 'metadata' | 'deleted';

/** A row as a table stores it: JSON text in `collections`, `labels`, `metadata`; `deleted` as 0/1. */
export type Stored<T extends Pick<SharedRow, EncodedFields>> = Omit<T, EncodedFields> & {
  collections: string;
  labels: string;
  metadata: string;
  deleted: number;
};

/**
 * A row (shared, or a local file record) as a table stores it: the one encoding the snapshot, the
 * history table and the local files table share, the inverse of `readStoredRow`.
 */
export function toStored<T extends Pick<SharedRow, EncodedFields>>(row: T): Stored<T> {
  return {
    ...row,
    collections: JSON.stringify(row.collections),
    labels: JSON.stringify(row.labels),
    metadata: JSON.stringify(row.metadata),
    deleted: row.deleted ? 1 : 0,
  };
}

/** A row as a table stores it (JSON text in `collections`, `labels`, `metadata`; `deleted` 0/1), checked. */
export function readStoredRow(stored: Readonly<Record<string, unknown>>): RowReading {
  const reject = (problem: string): RowReading => ({ ok: false, rejected: { id: printableId(stored.stable_id), problem } });
  const decoded: Record<string, unknown> = { ...stored };
  for (const field of ['collections', 'labels', 'metadata'] as const) {
    const text = stored[field];
    if (typeof text !== 'string' || text.length > MAX_JSON_TEXT) return reject(`${field} is not JSON text of a bounded size`);
    try {
      decoded[field] = JSON.parse(text);
    } catch {
      return reject(`${field} is not JSON`);
    }
  }
  if (stored.deleted !== 0 && stored.deleted !== 1) return reject('deleted must be 0 or 1');
  decoded.deleted = stored.deleted === 1;
  return readSharedRow(decoded);
}

/** `3 rows: 'x': reason; …` — the first few rejected rows, for a sync summary. */
export function describeRejected(rows: readonly RejectedRow[], shown = 3): string {
  const listed = rows.slice(0, shown).map((r) => `${r.id}: ${r.problem}`);
  if (rows.length > shown) listed.push(`and ${rows.length - shown} more`);
  return listed.join('; ');
}

function tagListProblem(field: 'collections' | 'labels', value: unknown): string | undefined {
  return Array.isArray(value) ? tagsProblem(field, value as string[]) : `${field} must be an array of strings`;
}

/** An id as found, quoted with control characters escaped, at most ~40 characters: never a log injection. */
function printableId(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const quoted = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  // JSON leaves U+2028/2029 and C1 controls as they are: escape those too.
  // eslint-disable-next-line no-control-regex
  return quoted.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
