import os from 'node:os';
import { isoUtc, type Clock } from '../domain/clock.ts';
import { LIMITS, mimeTypeOf, newLocalFile, normalizeTags, type FileRecord } from '../domain/file.ts';
import { newStableId, type IdSource } from '../domain/ids.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import { RemoteBlobStore } from '../remote/remote-blobs.ts';
import type { Remote } from '../remote/remote.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { ConflictRepository } from '../store/conflict-repository.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { sameState } from './planner.ts';

export const RESOLUTIONS = ['local_wins', 'remote_wins', 'keep_both', 'merge'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** Which side each field of a `merge` comes from; `both`: the union of the two tag lists. */
export interface MergeChoice {
  filename?: 'local' | 'remote';
  doc_id?: 'local' | 'remote';
  metadata?: 'local' | 'remote';
  /** The content (and with it size and file type: the blob is stored by hash and type). */
  content?: 'local' | 'remote';
  collections?: 'local' | 'remote' | 'both';
  labels?: 'local' | 'remote' | 'both';
}

export interface ResolutionResult {
  stable_id: string;
  resolution: Resolution;
  /** The new file holding the local version (`keep_both`). */
  copy_id: string | null;
  message: string;
}

export interface ConflictResolverDeps {
  files: SqliteFileRepository;
  blobs: BlobStore;
  conflicts: ConflictRepository;
  remote: Remote | undefined;
  clock: Clock;
  ids: IdSource;
  host?: string;
}

/**
 * Resolves a stored conflict locally; the next sync carries the result everywhere.
 * `local_wins`: the local version is pushed over the remote one. `remote_wins`: the local row takes
 * the remote version (its content downloaded and verified now). `keep_both`: the local version
 * becomes a new file with a new stable_id and a conflict-copy name; the original takes the remote
 * version.
 */
export class ConflictResolver {
  constructor(private readonly deps: ConflictResolverDeps) {}

  async resolve(stableId: string, resolution: string, choice: MergeChoice = {}): Promise<ResolutionResult> {
    if (!(RESOLUTIONS as readonly string[]).includes(resolution)) {
      throw new BadRequestError(`resolution must be one of ${RESOLUTIONS.join(', ')}, got '${resolution}'`);
    }
    const { files, conflicts } = this.deps;
    const local = files.get(stableId);
    if (!local) throw new NotFoundError(`No file with id '${stableId}'`);
    const conflict = conflicts.get(stableId);
    if (local.sync_status !== 'conflict' || !conflict) {
      throw new ConflictError('not_in_conflict', `File '${stableId}' is not in conflict (sync status: ${local.sync_status})`);
    }
    const remote = conflict.remote;
    let copyId: string | null = null;
    if (resolution === 'merge') {
      if (!remote) throw unreadable(stableId, conflict.remote_problem);
      if (local.deleted || remote.deleted) {
        throw new ConflictError('merge_needs_both_sides', `File '${stableId}' is deleted on one side: there is nothing to merge; keep one version`);
      }
      if (choice.content === 'remote') await this.fetchRemoteContent(stableId, local, remote);
      this.merge(local, remote, choice);
    } else if (resolution === 'local_wins') {
      // Based on the remote version it conflicted with: the next sync sees only the local change.
      // With that version unknown (an unreadable stored row), on the old base: the next sync meets
      // the remote row again, as a conflict if it is readable by then, else it publishes over it.
      const base = remote?.version ?? local.remote_version;
      files.update({ ...local, sync_status: local.deleted ? 'pending_delete' : 'modified', remote_version: base });
    } else if (!remote) {
      throw unreadable(stableId, conflict.remote_problem);
    } else {
      // The remote side's content first: if it cannot be fetched, nothing has changed yet, and
      // resolving again does not make a second copy.
      if (!remote.deleted) await this.fetchRemoteContent(stableId, local, remote);
      if (resolution === 'keep_both' && !local.deleted) copyId = this.copyOf(local);
      this.adoptRemote(local, remote);
    }
    conflicts.delete(stableId);
    return {
      stable_id: stableId,
      resolution: resolution as Resolution,
      copy_id: copyId,
      message: copyId
        ? `Kept both: the local version is now file ${copyId}; the next sync shares both`
        : resolution === 'merge'
          ? 'Merged; the next sync shares the result'
          : 'Resolved; the next sync shares the result',
    };
  }

  /** Downloads (verified) the remote side's content unless it is here; refuses if the file moved meanwhile. */
  private async fetchRemoteContent(stableId: string, local: FileRecord, remote: RemoteFileRow): Promise<void> {
    if (this.deps.blobs.has(remote.hash, remote.file_type)) return;
    await this.download(remote);
    const now = this.deps.files.get(stableId);
    if (now?.sync_status !== 'conflict' || now.local_modified_at !== local.local_modified_at || now.hash !== local.hash) {
      throw new ConflictError('changed_meanwhile', `File '${stableId}' changed while its conflict was being resolved; look again and resolve it then`);
    }
  }

  /**
   * Field by field from either side (tags: the union by default, other fields: this instance's),
   * as a local change on top of the remote version: the next sync pushes it like any edit. A
   * result equal to the remote row is simply the remote version, synced.
   */
  private merge(local: FileRecord, remote: RemoteFileRow, choice: MergeChoice): void {
    const pick = <K extends keyof FileRecord & keyof RemoteFileRow>(key: K, side: 'local' | 'remote' | undefined) =>
      side === 'remote' ? remote[key] : local[key];
    const tags = (field: 'collections' | 'labels') => {
      const side = choice[field] ?? 'both';
      const merged = side === 'both' ? normalizeTags([...local[field], ...remote[field]]) : pick(field, side);
      if (merged.length > LIMITS.tagCount) {
        throw new BadRequestError(`The merged ${field} would hold ${merged.length} entries, more than ${LIMITS.tagCount}: choose one side for ${field}`);
      }
      return merged;
    };
    const content = choice.content ?? 'local';
    const filename = pick('filename', choice.filename);
    const merged: FileRecord = {
      ...local,
      hash: pick('hash', content),
      size: pick('size', content),
      file_type: pick('file_type', content),
      filename,
      mime_type: mimeTypeOf(filename),
      doc_id: pick('doc_id', choice.doc_id),
      metadata: pick('metadata', choice.metadata),
      collections: tags('collections'),
      labels: tags('labels'),
    };
    if (sameState(merged, remote)) {
      this.adoptRemote(local, remote);
      return;
    }
    const now = isoUtc(this.deps.clock.now());
    // `sync_hash` says which content the remote already has: a remote-content merge moves metadata only.
    const syncHash = content === 'remote' ? remote.hash : local.sync_hash;
    this.deps.files.update({ ...merged, updated_at: now, local_modified_at: now, sync_status: 'modified', sync_hash: syncHash, remote_version: remote.version });
    if (merged.hash !== local.hash) this.deps.blobs.removeIfUnreferenced(local.hash, local.file_type, (h, e) => this.deps.files.isBlobReferenced(h, e));
  }

  /** The local version as a new file: same content (same blob), its own identity, to be pushed. */
  private copyOf(local: FileRecord): string {
    const now = isoUtc(this.deps.clock.now());
    const filename = this.unusedCopyName(local, now.slice(0, 10));
    // A new file (only a live local side is copied): its MIME type derived from its own name, as on
    // every instance that reads its row (a renamed file's copy may lose its extension).
    const copy = newLocalFile(
      {
        stable_id: newStableId(this.deps.ids),
        hash: local.hash,
        filename,
        file_type: local.file_type,
        size: local.size,
        doc_id: local.doc_id,
        collections: local.collections,
        labels: local.labels,
        metadata: local.metadata,
      },
      now,
    );
    this.deps.files.insert(copy);
    return copy.stable_id;
  }

  /**
   * A conflict-copy name no live file here has: two copies of one file made on the same day (or
   * copies that other instances made and this one pulled) get ` 2`, ` 3`, … in the parentheses.
   */
  private unusedCopyName(local: FileRecord, date: string): string {
    const host = this.deps.host ?? os.hostname();
    const first = conflictCopyName(local.filename, local.file_type, date, host);
    const stem = first.slice(0, first.lastIndexOf(')'));
    const taken = new Set(this.deps.files.list({ q: stem, limit: 1000 }).files.map((file) => file.filename));
    let name = first;
    for (let n = 2; taken.has(name); n++) name = conflictCopyName(local.filename, local.file_type, date, `${host} ${n}`);
    return name;
  }

  /** The local row becomes the remote version (its content already here), synced at that version. */
  private adoptRemote(local: FileRecord, remote: RemoteFileRow): void {
    const { files, blobs } = this.deps;
    if (remote.deleted) {
      files.update({ ...local, deleted: true, sync_status: 'synced', remote_version: remote.version });
    } else {
      const { version, ...fields } = remote;
      files.update({
        ...local,
        ...fields,
        stable_id: local.stable_id,
        deleted: false,
        sync_status: 'synced',
        sync_hash: remote.hash,
        remote_version: version,
      });
    }
    blobs.removeIfUnreferenced(local.hash, local.file_type, (h, e) => files.isBlobReferenced(h, e));
  }

  private async download(row: RemoteFileRow): Promise<void> {
    const { remote, blobs } = this.deps;
    if (!remote) throw new ConflictError('no_remote', 'The remote version cannot be fetched: no remote is configured');
    // Capped at the row's size and verified against its hash before it is kept.
    await new RemoteBlobStore(remote).download(row, blobs);
  }
}

function unreadable(stableId: string, problem: string | undefined): ConflictError {
  return new ConflictError(
    'remote_unreadable',
    `The remote side of the conflict of '${stableId}' is unreadable (${problem}): resolve it with local_wins, or sync again to read the remote side anew`,
  );
}

/** `report.pdf` → `report (conflict copy 2026-11-25 laptop).pdf`; the extension stays last. */
export function conflictCopyName(filename: string, fileType: string, date: string, host: string): string {
  const suffix = `.${fileType}`;
  const hasExt = fileType !== 'bin' && filename.toLowerCase().endsWith(suffix);
  const stem = hasExt ? filename.slice(0, -suffix.length) : filename;
  const ext = hasExt ? filename.slice(-suffix.length) : '';
  return `${stem} (conflict copy ${date} ${host})${ext}`;
}
