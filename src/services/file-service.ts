import type { Readable } from 'node:stream';
import { isoUtc, type Clock } from '../domain/clock.ts';
import {
  docIdProblem,
  filenameProblem,
  fileTypeOf,
  metadataProblem,
  mimeTypeOf,
  newLocalFile,
  normalizeTags,
  statusAfterLocalChange,
  statusAfterLocalDelete,
  tagsProblem,
  type FileRecord,
  type MetadataPatch,
} from '../domain/file.ts';
import { newStableId, type IdSource, type StableId } from '../domain/ids.ts';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import type { BlobStore, GarbageOptions, GarbageReport, StagedBlob } from '../store/blob-store.ts';
import type { FileFilter, FilePage, SqliteFileRepository } from '../store/file-repository.ts';

export interface NewFileInput {
  filename: string;
  /** Type sent by the client; used only when the filename's extension says nothing. */
  docId?: string | null;
  collections?: string[];
  labels?: string[];
  metadata?: Record<string, unknown>;
}

export interface FileServiceDeps {
  files: SqliteFileRepository;
  blobs: BlobStore;
  clock: Clock;
  ids: IdSource;
  maxUploadBytes: number;
  /**
   * Whether a sync uploaded the blob for a commit not known to have landed yet (its switch may still
   * land late, after another holder's GC took the remote copy): the local copy is the only one left
   * to put back from, so an edit does not release it (late-switch.ts).
   */
  uploadedUncommitted?: (hash: string, fileType: string) => boolean;
}

/**
 * The local document store: every change a person makes goes through here, from the HTTP API and
 * the CLI alike, and leaves the `sync_status` the sync relies on (docs/design.md#local-data-model):
 * new → `modified`; content replaced → `modified` with a new `hash`; metadata only → `modified` with
 * `hash` unchanged (so it still equals `sync_hash`); delete → tombstone, `pending_delete`.
 */
export class FileService {
  constructor(private readonly deps: FileServiceDeps) {}

  /**
   * Receives content into a temp file (hashing, size-limited). Follow with a `…FromStaged` call or
   * `discard`. `expectedBytes`, where known (a Content-Length, a file's size on disk), lets a large
   * file be hashed off the main thread.
   */
  stage(source: Readable, expectedBytes?: number): Promise<StagedBlob> {
    return this.deps.blobs.stage(source, this.deps.maxUploadBytes, expectedBytes);
  }

  discard(staged: StagedBlob): Promise<void> {
    return this.deps.blobs.discard(staged);
  }

  /** Refuses a size `stage` would refuse, without reading anything (an import's dry run). */
  checkSize(size: number): void {
    if (size > this.deps.maxUploadBytes) throw new PayloadTooLargeError(this.deps.maxUploadBytes);
  }

  /** Refuses what `createFromStaged` would refuse in `input`, writing nothing (an import's dry run). */
  checkNew(input: NewFileInput): void {
    validateNewFile(input);
  }

  /** Stores a new file from `source`; `expectedBytes` as for `stage`. */
  async create(source: Readable, input: NewFileInput, expectedBytes?: number): Promise<FileRecord> {
    validateNewFile(input);
    return this.createFromStaged(await this.stage(source, expectedBytes), input);
  }

  /** Stores a new file. The blob becomes visible before the row that names it, never after. */
  async createFromStaged(staged: StagedBlob, input: NewFileInput): Promise<FileRecord> {
    try {
      validateNewFile(input);
    } catch (error) {
      await this.discard(staged);
      throw error;
    }
    const fileType = fileTypeOf(input.filename);
    await this.deps.blobs.commit(staged, fileType);
    const now = this.nowIso();
    const file = newLocalFile(
      {
        stable_id: newStableId(this.deps.ids),
        hash: staged.hash,
        filename: input.filename,
        file_type: fileType,
        size: staged.size,
        doc_id: input.docId ?? null,
        collections: normalizeTags(input.collections ?? []),
        labels: normalizeTags(input.labels ?? []),
        metadata: input.metadata ?? {},
      },
      now,
    );
    this.deps.files.insert(file);
    return file;
  }

  async replaceContent(id: string, source: Readable): Promise<FileRecord> {
    this.getLive(id);
    return this.replaceContentFromStaged(id, await this.stage(source));
  }

  /** New content, same stable_id. Identical content changes nothing. */
  async replaceContentFromStaged(id: string, staged: StagedBlob): Promise<FileRecord> {
    let before: FileRecord;
    try {
      before = this.getLive(id);
    } catch (error) {
      await this.discard(staged);
      throw error;
    }
    if (staged.hash === before.hash) {
      await this.discard(staged);
      return before;
    }
    await this.deps.blobs.commit(staged, before.file_type);
    // Read again after the await: another request may have changed the row meanwhile.
    const current = this.getLive(id);
    const now = this.nowIso();
    const after: FileRecord = {
      ...current,
      hash: staged.hash,
      size: staged.size,
      updated_at: now,
      local_modified_at: now,
      sync_status: statusAfterLocalChange(current.sync_status),
    };
    this.deps.files.update(after);
    this.releaseBlob(current.hash, current.file_type);
    return after;
  }

  /** A metadata-only change: `hash` is untouched, so the sync moves it without any blob transfer. */
  updateMetadata(id: string, patch: MetadataPatch): FileRecord {
    validatePatch(patch);
    const current = this.getLive(id);
    const next: FileRecord = {
      ...current,
      // The MIME type follows the name (as for an upload, and as every other instance derives it).
      ...(patch.filename !== undefined && { filename: patch.filename, mime_type: mimeTypeOf(patch.filename) }),
      ...(patch.collections !== undefined && { collections: normalizeTags(patch.collections) }),
      ...(patch.labels !== undefined && { labels: normalizeTags(patch.labels) }),
      ...(patch.metadata !== undefined && { metadata: patch.metadata }),
      ...(patch.doc_id !== undefined && { doc_id: patch.doc_id }),
    };
    if (sameMetadata(current, next)) return current;
    const now = this.nowIso();
    const after: FileRecord = {
      ...next,
      updated_at: now,
      local_modified_at: now,
      sync_status: statusAfterLocalChange(current.sync_status),
    };
    this.deps.files.update(after);
    return after;
  }

  /** Soft delete: the row stays as a tombstone that the sync propagates. */
  delete(id: string): FileRecord {
    const current = this.getLive(id);
    const now = this.nowIso();
    const after: FileRecord = {
      ...current,
      deleted: true,
      updated_at: now,
      local_modified_at: now,
      sync_status: statusAfterLocalDelete(current.sync_status),
    };
    this.deps.files.update(after);
    return after;
  }

  /** A file by id; tombstones only when asked for. */
  get(id: string, includeDeleted = false): FileRecord {
    const file = this.deps.files.get(id);
    if (!file || (file.deleted && !includeDeleted)) throw new NotFoundError(`No file with id '${id}'`);
    return file;
  }

  list(filter: FileFilter): FilePage {
    return this.deps.files.list(filter);
  }

  /** A page of the ids matching `filter`, after `after` in id order (bulk actions walk a selection). */
  idsPage(filter: Omit<FileFilter, 'limit' | 'cursor'>, after: string, limit: number): StableId[] {
    return this.deps.files.idsPage(filter, after, limit);
  }

  /** Runs `work` in one local transaction (many small changes, one commit). */
  inTransaction<T>(work: () => T): T {
    return this.deps.files.inTransaction(work);
  }

  /** The content of a live file, optionally a byte range (inclusive end). */
  openContent(file: Pick<FileRecord, 'hash' | 'file_type'>, range?: { start: number; end: number }): Readable {
    return this.deps.blobs.createReadStream(file.hash, file.file_type, range);
  }

  unsyncedCount(): number {
    return this.deps.files.unsyncedCount();
  }

  /**
   * Removes local blobs no row names and that are older than the grace; `alsoReferenced` keeps more
   * (the history window's row versions).
   */
  collectGarbage(options: GarbageOptions & { alsoReferenced?: (hash: string, ext: string) => boolean } = {}): Promise<GarbageReport> {
    const { alsoReferenced } = options;
    const isReferenced = alsoReferenced ? (hash: string, ext: string) => this.isReferenced(hash, ext) || alsoReferenced(hash, ext) : this.isReferenced;
    return this.deps.blobs.collectGarbage(isReferenced, this.deps.clock.now(), options);
  }

  private readonly isReferenced = (hash: string, ext: string): boolean =>
    this.deps.files.isBlobReferenced(hash, ext) || (this.deps.uploadedUncommitted?.(hash, ext) ?? false);

  private releaseBlob(hash: string, fileType: string): void {
    this.deps.blobs.removeIfUnreferenced(hash, fileType, this.isReferenced);
  }

  private getLive(id: string): FileRecord {
    return this.get(id, false);
  }

  private nowIso(): string {
    return isoUtc(this.deps.clock.now());
  }
}

function sameMetadata(a: FileRecord, b: FileRecord): boolean {
  return (
    a.filename === b.filename &&
    a.doc_id === b.doc_id &&
    JSON.stringify(a.collections) === JSON.stringify(b.collections) &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata)
  );
}

function throwIf(problem: string | undefined): void {
  if (problem !== undefined) throw new BadRequestError(problem);
}

function validateNewFile(input: NewFileInput): void {
  throwIf(filenameProblem(input.filename));
  if (input.collections) throwIf(tagsProblem('collections', input.collections));
  if (input.labels) throwIf(tagsProblem('labels', input.labels));
  if (input.docId !== undefined) throwIf(docIdProblem(input.docId));
  if (input.metadata !== undefined) throwIf(metadataProblem(input.metadata));
}

function validatePatch(patch: MetadataPatch): void {
  if (patch.filename !== undefined) throwIf(filenameProblem(patch.filename));
  if (patch.collections !== undefined) throwIf(tagsProblem('collections', patch.collections));
  if (patch.labels !== undefined) throwIf(tagsProblem('labels', patch.labels));
  if (patch.doc_id !== undefined) throwIf(docIdProblem(patch.doc_id));
  if (patch.metadata !== undefined) throwIf(metadataProblem(patch.metadata));
}
