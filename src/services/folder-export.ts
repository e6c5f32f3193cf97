import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isoUtc, type Clock } from '../domain/clock.ts';
import type { FileRecord } from '../domain/file.ts';
import { collisionKey, safeSegment, uniqueName } from '../domain/safe-name.ts';
import { ConflictError, storageErrorOf } from '../errors.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { makeDirs } from '../store/data-dir.ts';
import { MANIFEST_NAME, MANIFEST_TAIL, manifestHead, type ManifestEntry } from './export-manifest.ts';
import type { FileService } from './file-service.ts';

export interface ExportProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface ExportReport {
  exported: number;
  bytes: number;
  failed: Array<{ id: string; filename: string; error: string }>;
  manifest: string;
}

const PAGE = 500;

/**
 * `docsync export`: every live file under a readable name, in a folder named after its first
 * collection (files without one at the top), plus the `docsync-export.json` sidecar that
 * `docsync import` reads back. Names are made safe for Windows, macOS and Linux and unique per
 * folder, case-insensitively; the files are taken in creation order, so the same store always
 * gets the same names. Each file's modification time is its `updated_at`.
 */
export async function exportFolder(
  deps: { files: FileService; repository: SqliteFileRepository; clock: Clock; instanceId: string },
  target: string,
  onProgress?: (progress: ExportProgress) => void,
): Promise<ExportReport> {
  const existing = await fsp.readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (existing.length > 0) throw new ConflictError('target_not_empty', `${target} is not empty: export into a new or empty folder`);
  makeDirs(target);
  const totals = { files: deps.repository.liveCount(), bytes: 0 };
  const progress: ExportProgress = { files: 0, totalFiles: totals.files, bytes: 0, totalBytes: 0 };
  const names = new ExportNames();
  const report: ExportReport = { exported: 0, bytes: 0, failed: [], manifest: path.join(target, MANIFEST_NAME) };
  const sidecar = fs.createWriteStream(path.join(target, `${MANIFEST_NAME}.partial`), { flags: 'wx' });
  const write = (text: string) => new Promise<void>((resolve, reject) => sidecar.write(text, (e) => (e ? reject(e) : resolve())));
  try {
    await write(manifestHead(isoUtc(deps.clock.now()), deps.instanceId));
    let first = true;
    for (let after: FileRecord | undefined; ; ) {
      const page = deps.repository.livePage(after && { createdAt: after.created_at, stableId: after.stable_id }, PAGE);
      if (page.length === 0) break;
      for (const file of page) {
        const rel = names.place(file);
        try {
          await writeContent(deps.files, file, path.join(target, ...rel.split('/')));
          const entry: ManifestEntry = {
            path: rel,
            id: file.stable_id,
            filename: file.filename,
            collections: file.collections,
            labels: file.labels,
            doc_id: file.doc_id,
            metadata: file.metadata,
            hash: file.hash,
            size: file.size,
            created_at: file.created_at,
            updated_at: file.updated_at,
          };
          await write(`${first ? '' : ',\n'}${JSON.stringify(entry)}`);
          first = false;
          report.exported++;
          report.bytes += file.size;
        } catch (error) {
          if (storageErrorOf(error)?.code === 'insufficient_storage') throw storageErrorOf(error);
          report.failed.push({ id: file.stable_id, filename: file.filename, error: (error as Error).message });
        }
        progress.files++;
        progress.bytes += file.size;
        onProgress?.(progress);
      }
      after = page[page.length - 1];
    }
    await write(`\n${MANIFEST_TAIL}`);
    await new Promise<void>((resolve, reject) => sidecar.end((e?: Error | null) => (e ? reject(e) : resolve())));
    // The sidecar appears complete or not at all: an interrupted export is not mistaken for a whole one.
    await fsp.rename(path.join(target, `${MANIFEST_NAME}.partial`), report.manifest);
    return report;
  } finally {
    sidecar.destroy();
  }
}

async function writeContent(files: FileService, file: FileRecord, destination: string): Promise<void> {
  await fsp.mkdir(path.dirname(destination), { recursive: true });
  await pipeline(files.openContent(file), fs.createWriteStream(destination, { flags: 'wx' }));
  const at = new Date(file.updated_at);
  await fsp.utimes(destination, at, at);
}

/** Hands out the path of each exported file: folders and names unique per folder, case-insensitively. */
class ExportNames {
  /** Collision keys taken per folder ('' = the top). The sidecar's name is taken from the start. */
  private readonly taken = new Map<string, Set<string>>([['', new Set([collisionKey(MANIFEST_NAME), collisionKey(`${MANIFEST_NAME}.partial`)])]]);
  /** Collection → its folder, fixed the first time it is seen. */
  private readonly folders = new Map<string, string>();

  place(file: FileRecord): string {
    const collection = file.collections[0];
    const folder = collection === undefined ? '' : this.folderOf(collection);
    const name = uniqueName(safeSegment(file.filename), file.stable_id, this.takenIn(folder));
    return folder === '' ? name : `${folder}/${name}`;
  }

  private folderOf(collection: string): string {
    let folder = this.folders.get(collection);
    if (folder === undefined) {
      // Tagged by a digest of the collection's name, so the same collections get the same folders.
      const tag = createHash('sha256').update(collection).digest('hex').slice(0, 8);
      folder = uniqueName(safeSegment(collection), tag, this.takenIn(''));
      this.folders.set(collection, folder);
    }
    return folder;
  }

  private takenIn(folder: string): Set<string> {
    let set = this.taken.get(folder);
    if (!set) this.taken.set(folder, (set = new Set()));
    return set;
  }
}
