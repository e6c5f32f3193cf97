import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { normalizeTags, type FileRecord } from '../domain/file.ts';
import { BadFileError, BadRequestError, describeFileError } from '../errors.ts';
import type { SqliteFileRepository } from '../store/file-repository.ts';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, parseManifest, type ManifestEntry } from './export-manifest.ts';
import type { FileService, NewFileInput } from './file-service.ts';

export type FoldersAs = 'collections' | 'labels';

export interface ImportOptions {
  collections: string[];
  labels: string[];
  /** Each sub-folder name on a file's path (below the imported folder) becomes one collection, or label. */
  foldersAs?: FoldersAs;
  /** Folders never entered (the data dir and the remote folder, when they lie inside the imported one). */
  exclude: string[];
  /** Read and check every file, write nothing: the report says what an import would do. */
  dryRun?: boolean;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface ImportReport {
  /** A dry run: `imported` and `duplicates` say what an import would do; nothing was written. */
  dry_run: boolean;
  /** Files added (a dry run: that would be), with what they are given. No `id` in a dry run. */
  imported: Array<{ path: string; id?: string; filename: string; collections: string[]; labels: string[] }>;
  /**
   * Files skipped for content already in the store (`existing_id`), or, in a dry run, already met
   * earlier in the same folder (`same_as_path`; a real import reports the file it just added).
   */
  duplicates: Array<{ path: string; existing_id?: string; existing_filename: string; same_as_path?: string }>;
  failed: Array<{ path: string; error: string }>;
  /** Entries not looked at, and why (links to folders, sockets, FIFOs). Hidden files are skipped silently. */
  skipped: Array<{ path: string; reason: string }>;
  total_files: number;
  total_bytes: number;
  /** Whether a `docsync-export.json` sidecar gave names and metadata. */
  sidecar: boolean;
}

interface Candidate {
  /** Relative to the imported folder, `/` between folders. */
  rel: string;
  abs: string;
  size: number;
}

/**
 * `docsync import`: every regular file under a folder becomes a file of the store (docs/design.md#local-data-model: a new
 * local file, `modified`, shared by the next sync). Content already in the store is a duplicate and
 * is skipped; a file that cannot be read or stored is listed and the rest goes on. When the folder
 * holds a `docsync export` sidecar, its names and metadata are taken back as they were exported.
 */
export async function importFolder(
  deps: { files: FileService; repository: SqliteFileRepository },
  root: string,
  options: ImportOptions,
): Promise<ImportReport> {
  const stat = await fsp.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new BadRequestError(`${root} is not a folder`);
  const report: ImportReport = {
    dry_run: options.dryRun === true,
    imported: [],
    duplicates: [],
    failed: [],
    skipped: [],
    total_files: 0,
    total_bytes: 0,
    sidecar: false,
  };
  const manifest = await readManifest(root);
  report.sidecar = manifest !== undefined;
  const candidates = await scan(root, options.exclude, report);
  report.total_files = candidates.length;
  report.total_bytes = candidates.reduce((sum, c) => sum + c.size, 0);
  const progress: ImportProgress = { files: 0, totalFiles: candidates.length, bytes: 0, totalBytes: report.total_bytes };
  options.onProgress?.(progress);
  const seen = new Set<string>();
  const planned = new Map<string, PlannedFile[]>();
  for (const candidate of candidates) {
    const entry = manifest?.get(candidate.rel.normalize('NFC'));
    if (entry) seen.add(candidate.rel.normalize('NFC'));
    const before = progress.bytes;
    const onBytes = (n: number): void => {
      progress.bytes += n;
      options.onProgress?.(progress);
    };
    try {
      const input = inputFor(candidate, entry, options);
      if (options.dryRun) await planOne(deps, candidate, input, entry !== undefined, report, planned, onBytes);
      else await importOne(deps, candidate, input, entry !== undefined, report, onBytes);
    } catch (error) {
      report.failed.push({ path: candidate.rel, error: describeFileError(error, IMPORT_ERROR_WORDS) });
    }
    progress.files++;
    progress.bytes = before + candidate.size;
    options.onProgress?.(progress);
  }
  for (const [rel] of manifest ?? []) {
    if (!seen.has(rel)) report.failed.push({ path: rel, error: `listed in ${MANIFEST_NAME} but not in the folder` });
  }
  return report;
}

async function importOne(
  deps: { files: FileService; repository: SqliteFileRepository },
  candidate: Candidate,
  input: NewFileInput,
  fromSidecar: boolean,
  report: ImportReport,
  onBytes: (n: number) => void,
): Promise<void> {
  // Counted on the way through: a 'data' listener would start the flow before the stage listens.
  const source = fs.createReadStream(candidate.abs);
  const counted = Readable.from(
    (async function* () {
      for await (const chunk of source) {
        onBytes((chunk as Buffer).length);
        yield chunk as Buffer;
      }
    })(),
  );
  const staged = await deps.files.stage(counted, candidate.size);
  // A file of an export is a duplicate only when it is the same file (content, name and metadata):
  // an export may hold two files with equal bytes, and both come back.
  const twin = deps.repository.liveWithHash(staged.hash).find((f) => !fromSidecar || sameFile(f, input));
  if (twin) {
    await deps.files.discard(staged);
    report.duplicates.push({ path: candidate.rel, existing_id: twin.stable_id, existing_filename: twin.filename });
    return;
  }
  const file = await deps.files.createFromStaged(staged, input);
  report.imported.push({ path: candidate.rel, id: file.stable_id, filename: file.filename, collections: file.collections, labels: file.labels });
}

type Comparable = Pick<FileRecord, 'filename' | 'doc_id' | 'collections' | 'labels' | 'metadata'>;

interface PlannedFile {
  path: string;
  file: Comparable;
}

/**
 * `importOne` without a write: the same checks in the same order (size, reading, duplicates, the
 * input), the content hashed as it is read rather than staged. Files planned earlier in the folder
 * stand in for the rows a real import would have added by then.
 */
async function planOne(
  deps: { files: FileService; repository: SqliteFileRepository },
  candidate: Candidate,
  input: NewFileInput,
  fromSidecar: boolean,
  report: ImportReport,
  planned: Map<string, PlannedFile[]>,
  onBytes: (n: number) => void,
): Promise<void> {
  deps.files.checkSize(candidate.size);
  const hasher = createHash('sha256');
  for await (const chunk of fs.createReadStream(candidate.abs)) {
    hasher.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
  }
  const hash = hasher.digest('hex');
  const twin = deps.repository.liveWithHash(hash).find((f) => !fromSidecar || sameFile(f, input));
  if (twin) {
    report.duplicates.push({ path: candidate.rel, existing_id: twin.stable_id, existing_filename: twin.filename });
    return;
  }
  const earlier = planned.get(hash)?.find((p) => !fromSidecar || sameFile(p.file, input));
  if (earlier) {
    report.duplicates.push({ path: candidate.rel, existing_filename: earlier.file.filename, same_as_path: earlier.path });
    return;
  }
  deps.files.checkNew(input);
  const file: Comparable = {
    filename: input.filename,
    doc_id: input.docId ?? null,
    collections: normalizeTags(input.collections ?? []),
    labels: normalizeTags(input.labels ?? []),
    metadata: input.metadata ?? {},
  };
  planned.set(hash, [...(planned.get(hash) ?? []), { path: candidate.rel, file }]);
  report.imported.push({ path: candidate.rel, filename: file.filename, collections: file.collections, labels: file.labels });
}

function inputFor(candidate: Candidate, entry: ManifestEntry | undefined, options: ImportOptions): NewFileInput {
  if (entry) {
    return {
      filename: entry.filename,
      collections: normalizeTags([...entry.collections, ...options.collections]),
      labels: normalizeTags([...entry.labels, ...options.labels]),
      docId: entry.doc_id,
      metadata: entry.metadata,
    };
  }
  const folders = candidate.rel.split('/').slice(0, -1);
  return {
    filename: path.basename(candidate.abs),
    collections: normalizeTags([...options.collections, ...(options.foldersAs === 'collections' ? folders : [])]),
    labels: normalizeTags([...options.labels, ...(options.foldersAs === 'labels' ? folders : [])]),
  };
}

function sameFile(file: Comparable, input: NewFileInput): boolean {
  return (
    file.filename === input.filename &&
    file.doc_id === (input.docId ?? null) &&
    JSON.stringify(file.collections) === JSON.stringify(normalizeTags(input.collections ?? [])) &&
    JSON.stringify(file.labels) === JSON.stringify(normalizeTags(input.labels ?? [])) &&
    JSON.stringify(file.metadata) === JSON.stringify(input.metadata ?? {})
  );
}

async function readManifest(root: string): Promise<Map<string, ManifestEntry> | undefined> {
  const file = path.join(root, MANIFEST_NAME);
  const stat = await fsp.stat(file).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  if (stat.size > MAX_MANIFEST_BYTES) throw new BadFileError(`${file} is larger than ${MAX_MANIFEST_BYTES} bytes: refused`);
  return parseManifest(await fsp.readFile(file, 'utf8'));
}

/**
 * The regular files under `root`, in a fixed order (names sorted per folder). Hidden entries (a
 * leading dot) and the sidecar are left out; links to files are followed, links to folders are not
 * (a loop would never end); FIFOs and sockets are never opened (reading one could block forever).
 */
async function scan(root: string, exclude: string[], report: ImportReport): Promise<Candidate[]> {
  const excluded = new Set(exclude.map((p) => realpathOr(p)));
  const out: Candidate[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).sort();
    } catch (error) {
      report.failed.push({ path: rel || '.', error: describeFileError(error, IMPORT_ERROR_WORDS) });
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const childRel = rel ? `${rel}/${name}` : name;
      if (childRel === MANIFEST_NAME) continue;
      const abs = path.join(dir, name);
      try {
        const link = await fsp.lstat(abs);
        const stat = link.isSymbolicLink() ? await fsp.stat(abs).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT' || error.code === 'ELOOP') throw new Error('a link to something that does not exist');
          throw error;
        }) : link;
        if (stat.isDirectory()) {
          if (link.isSymbolicLink()) report.skipped.push({ path: childRel, reason: 'a link to a folder (not followed)' });
          else if (excluded.has(realpathOr(abs))) report.skipped.push({ path: childRel, reason: "docsync's own data (data dir or remote folder)" });
          else await walk(abs, childRel);
        } else if (stat.isFile()) {
          out.push({ rel: childRel, abs, size: stat.size });
        } else {
          report.skipped.push({ path: childRel, reason: 'not a regular file' });
        }
      } catch (error) {
        report.failed.push({ path: childRel, error: describeFileError(error, IMPORT_ERROR_WORDS) });
      }
    }
  };
  await walk(root, '');
  return out;
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** A file listed a moment ago and then missing was removed during the import. */
const IMPORT_ERROR_WORDS = { ENOENT: 'gone while importing' };
