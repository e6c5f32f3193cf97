import { docIdProblem, filenameProblem, metadataProblem, tagsProblem } from '../domain/file.ts';
import { BadFileError } from '../errors.ts';

/**
 * The sidecar `docsync export` writes beside the files and `docsync import` reads back: what a
 * filename on disk cannot say (the stored name, collections, labels, doc id, metadata). JSON, one
 * entry per line so a person can read and diff it.
 */
export const MANIFEST_NAME = 'docsync-export.json';
export const MANIFEST_FORMAT = 'docsync-export';
export const MANIFEST_VERSION = 1;
/** A sidecar is read whole: larger ones (about 2M files) are refused rather than exhausting memory. */
export const MAX_MANIFEST_BYTES = 1024 * 1024 * 1024;

export interface ManifestEntry {
  /** Where the content is, relative to the export folder, with `/` between folders. */
  path: string;
  id: string;
  filename: string;
  collections: string[];
  labels: string[];
  doc_id: string | null;
  metadata: Record<string, unknown>;
  hash: string;
  size: number;
  created_at: string;
  updated_at: string;
}

export function manifestHead(exportedAt: string, instanceId: string): string {
  return `{"format": ${JSON.stringify(MANIFEST_FORMAT)}, "version": ${MANIFEST_VERSION}, "exported_at": ${JSON.stringify(exportedAt)}, "instance_id": ${JSON.stringify(instanceId)}, "files": [\n`;
}

export const MANIFEST_TAIL = ']}\n';

/** Entries by path (NFC: macOS may hand the names back decomposed). Any problem refuses the whole sidecar. */
export function parseManifest(text: string): Map<string, ManifestEntry> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadFileError(`${MANIFEST_NAME} is not valid JSON (${(error as Error).message})`);
  }
  const doc = value as { format?: unknown; version?: unknown; files?: unknown };
  if (doc === null || typeof doc !== 'object' || doc.format !== MANIFEST_FORMAT || !Array.isArray(doc.files)) {
    throw new BadFileError(`${MANIFEST_NAME} is not a docsync export sidecar (no "format": "${MANIFEST_FORMAT}" with "files")`);
  }
  if (doc.version !== MANIFEST_VERSION) {
    throw new BadFileError(`${MANIFEST_NAME} has version ${String(doc.version)}; this docsync reads version ${MANIFEST_VERSION}: upgrade docsync`);
  }
  const entries = new Map<string, ManifestEntry>();
  doc.files.forEach((raw: unknown, index) => {
    const entry = raw as ManifestEntry;
    const problem = entryProblem(entry);
    if (problem) throw new BadFileError(`${MANIFEST_NAME}, files[${index}]: ${problem}`);
    const key = entry.path.normalize('NFC');
    if (entries.has(key)) throw new BadFileError(`${MANIFEST_NAME}, files[${index}]: path ${JSON.stringify(entry.path)} is listed twice`);
    entries.set(key, entry);
  });
  return entries;
}

function entryProblem(entry: ManifestEntry): string | undefined {
  if (entry === null || typeof entry !== 'object') return 'not an object';
  if (typeof entry.path !== 'string' || entry.path === '' || entry.path.startsWith('/') || entry.path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    return 'path must be a relative path inside the export folder';
  }
  if (typeof entry.filename !== 'string') return 'filename must be a string';
  if (!Array.isArray(entry.collections)) return 'collections must be an array of strings';
  if (!Array.isArray(entry.labels)) return 'labels must be an array of strings';
  if (entry.doc_id !== null && typeof entry.doc_id !== 'string') return 'doc_id must be a string or null';
  return (
    filenameProblem(entry.filename) ??
    tagsProblem('collections', entry.collections) ??
    tagsProblem('labels', entry.labels) ??
    docIdProblem(entry.doc_id) ??
    metadataProblem(entry.metadata)
  );
}
