import { isoUtc, type Clock } from '../domain/clock.ts';
import { mimeTypeOf, type FileRecord } from '../domain/file.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import type { FileVersion, HistoryRepository } from '../store/history-repository.ts';

const DAY_MS = 24 * 3600 * 1000;

/** What a restore needs to bring a blob onto this instance. */
export interface BlobToFetch {
  hash: string;
  file_type: string;
  size: number;
  filename: string;
}

/**
 * Downloads a blob from the remote into the local blob store, verifying its hash: `'absent'` when the
 * remote does not have it (its GC collected it); rejects when it cannot tell (the remote's error says why).
 */
export type FetchBlob = (blob: BlobToFetch) => Promise<'fetched' | 'absent'>;

export interface HistoryServiceDeps {
  files: SqliteFileRepository;
  history: HistoryRepository;
  blobs: BlobStore;
  clock: Clock;
  /** The history window (docs/design.md#history-trash-and-garbage-collection): how far back the trash reaches. */
  historyDays: number;
  /** Undefined when no remote is configured: content no longer here cannot be restored then. */
  fetchBlob?: FetchBlob | undefined;
}

/** One entry of a file's history, as the API lists it. */
export interface HistoryEntry extends FileVersion {
  /** This is the version the local row was last synced at. */
  current: boolean;
}

/** The shared fields a restore takes from a historical version (or from a tombstone). */
type RestoredFields = Pick<FileRecord, 'hash' | 'filename' | 'file_type' | 'size' | 'doc_id' | 'collections' | 'labels' | 'metadata'>;

/**
 * History, trash and restore (docs/design.md#history-trash-and-garbage-collection). A restore is an ordinary local change: the row takes the old
 * version's content and metadata and becomes `modified`, with its `remote_version` kept as the merge
 * base, so the next sync shares it like an edit (remote history is never rewritten).
 */
export class HistoryService {
  constructor(private readonly deps: HistoryServiceDeps) {}

  /** The recorded versions of a file, newest first. */
  versions(id: string): HistoryEntry[] {
    const file = this.getFile(id);
    return this.deps.history.versionsOf(id).map((v) => ({ ...v, current: v.version === file.remote_version }));
  }

  /** Files deleted within the history window, newest deletion first. */
  trash(page: { limit: number; cursor?: string }): { files: FileRecord[]; nextCursor: string | null } {
    return this.deps.files.listDeleted(this.windowStart(), page);
  }

  /** Gives a file the content and metadata of one of its versions. */
  async restoreVersion(id: string, version: number): Promise<FileRecord> {
    refuseConflict(this.getFile(id));
    const source = this.deps.history.get(id, version);
    if (!source) throw new NotFoundError(`File '${id}' has no version ${version} in its history`);
    if (source.deleted) {
      throw new ConflictError('version_is_deletion', `Version ${version} of '${id}' is its deletion: restore a version with content`);
    }
    return this.restore(id, source);
  }

  /** Brings a deleted file back with its last live content and metadata. */
  async restoreDeleted(id: string): Promise<FileRecord> {
    const file = this.getFile(id);
    refuseConflict(file);
    if (!file.deleted) throw new ConflictError('not_deleted', `File '${id}' is not deleted: there is nothing to restore from the trash`);
    // A tombstone keeps the fields of the file it replaced; history, when it has a live version, is as good and names its commit.
    const source = this.deps.history.versionsOf(id).find((v) => !v.deleted) ?? file;
    return this.restore(id, source);
  }

  private async restore(id: string, source: RestoredFields): Promise<FileRecord> {
    await this.ensureContent(source);
    // Read again after the await: a sync or another request may have changed the row meanwhile.
    const current = this.getFile(id);
    refuseConflict(current);
    if (!current.deleted && sameFields(current, source)) return current;
    const now = isoUtc(this.deps.clock.now());
    const after: FileRecord = {
      ...current,
      hash: source.hash,
      filename: source.filename,
      file_type: source.file_type,
      mime_type: mimeTypeOf(source.filename),
      size: source.size,
      doc_id: source.doc_id,
      collections: [...source.collections],
      labels: [...source.labels],
      metadata: source.metadata,
      deleted: false,
      updated_at: now,
      local_modified_at: now,
      sync_status: 'modified',
    };
    this.deps.files.update(after);
    if (current.hash !== after.hash || current.file_type !== after.file_type) {
      this.deps.blobs.removeIfUnreferenced(current.hash, current.file_type, this.isReferenced);
    }
    return after;
  }

  /** The content must be here before a row names it. */
  private async ensureContent(source: RestoredFields): Promise<void> {
    const { blobs, fetchBlob } = this.deps;
    if (blobs.has(source.hash, source.file_type)) return;
    if (!fetchBlob) {
      throw new ConflictError(
        'content_unavailable',
        'the content of this version is no longer on this instance and no remote is configured',
      );
    }
    const fetched = await fetchBlob({ hash: source.hash, file_type: source.file_type, size: source.size, filename: source.filename });
    if (fetched === 'absent') {
      throw new ConflictError(
        'content_unavailable',
        `the content of this version (${source.filename}, sha256 ${source.hash}) is no longer on this instance nor on the remote: ` +
          'the remote deleted it once no version inside the history window named it, so it cannot be restored',
      );
    }
    if (!blobs.has(source.hash, source.file_type)) {
      throw new ConflictError('content_unavailable', 'the content of this version could not be brought from the remote');
    }
  }

  /** A blob a row or a version inside the window names stays: restoring back must not need a download. */
  private readonly isReferenced = (hash: string, fileType: string): boolean =>
    this.deps.files.isBlobReferenced(hash, fileType) || this.deps.history.namesBlob(hash, fileType, this.windowStart());

  private getFile(id: string): FileRecord {
    const file = this.deps.files.get(id);
    if (!file) throw new NotFoundError(`No file with id '${id}'`);
    return file;
  }

  private windowStart(): string {
    return isoUtc(this.deps.clock.now() - this.deps.historyDays * DAY_MS);
  }
}

function refuseConflict(file: FileRecord): void {
  if (file.sync_status === 'conflict') {
    throw new ConflictError('file_in_conflict', `File '${file.stable_id}' is in conflict: resolve the conflict before restoring`);
  }
}

function sameFields(a: RestoredFields, b: RestoredFields): boolean {
  return (
    a.hash === b.hash &&
    a.filename === b.filename &&
    a.file_type === b.file_type &&
    a.doc_id === b.doc_id &&
    JSON.stringify(a.collections) === JSON.stringify(b.collections) &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata)
  );
}
