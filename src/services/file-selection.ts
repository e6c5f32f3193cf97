import type { Readable } from 'node:stream';
import { ZipArchive } from 'archiver';
import type { FileRecord } from '../domain/file.ts';
import { safeSegment, uniqueName } from '../domain/safe-name.ts';
import { AppError, BadRequestError } from '../errors.ts';
import type { FileFilter } from '../store/file-repository.ts';
import type { FileService } from './file-service.ts';

/**
 * Many files at once (issue 13): a selection is either explicit ids, or "everything matching this
 * filter" minus some ids — so "select all 100,000 matching" never ships 100,000 ids to the page.
 */
export type FileSelection =
  | { ids: string[] }
  | { filter: Pick<FileFilter, 'collection' | 'label' | 'docId' | 'q'>; except?: string[] };

export type BulkAction =
  | { action: 'delete' }
  | { action: 'add_labels' | 'remove_labels' | 'add_collections' | 'remove_collections'; values: string[] };

export interface BulkFailure {
  id: string;
  error: string;
  message: string;
}

export interface BulkReport {
  /** Files changed (or already as asked). */
  done: number;
  failed: number;
  /** The first failures, each with its reason (the count above has them all). */
  failures: BulkFailure[];
}

/** Ids read from the store per step, and changed per transaction. */
const CHUNK = 500;
const MAX_REPORTED_FAILURES = 100;

/** Every id of the selection, a chunk at a time, in a fixed order; never all at once. */
export function* selectionChunks(files: FileService, selection: FileSelection): Generator<string[]> {
  if ('ids' in selection) {
    const unique = [...new Set(selection.ids)];
    for (let i = 0; i < unique.length; i += CHUNK) yield unique.slice(i, i + CHUNK);
    return;
  }
  const except = new Set(selection.except ?? []);
  // Walking by id keeps the walk stable while the action changes the rows (a removed label, a delete).
  for (let after = ''; ; ) {
    const ids = files.idsPage({ ...selection.filter, includeDeleted: false }, after, CHUNK);
    if (ids.length === 0) return;
    after = ids[ids.length - 1]!;
    const kept = ids.filter((id) => !except.has(id));
    if (kept.length > 0) yield kept;
  }
}

/**
 * Applies `action` to every file of the selection. Each file changes on its own (one row, one
 * statement): a file that fails (gone, a limit) is reported and the others still change.
 */
export function applyBulk(files: FileService, selection: FileSelection, action: BulkAction): BulkReport {
  const report: BulkReport = { done: 0, failed: 0, failures: [] };
  for (const ids of selectionChunks(files, selection)) {
    files.inTransaction(() => {
      for (const id of ids) {
        try {
          applyOne(files, id, action);
          report.done++;
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          report.failed++;
          if (report.failures.length < MAX_REPORTED_FAILURES) report.failures.push({ id, error: error.code, message: error.message });
        }
      }
    });
  }
  return report;
}

function applyOne(files: FileService, id: string, action: BulkAction): void {
  if (action.action === 'delete') {
    files.delete(id);
    return;
  }
  const file = files.get(id);
  const field = action.action.endsWith('labels') ? 'labels' : 'collections';
  const current = file[field];
  const next = action.action.startsWith('add')
    ? [...current, ...action.values.filter((v) => !current.includes(v))]
    : current.filter((v) => !action.values.includes(v));
  if (next.length !== current.length) files.updateMetadata(id, { [field]: next });
}

/**
 * A zip of the selection, streamed: one file is read at a time and the next is added only when the
 * archive has taken the previous one, so memory stays flat whatever the total size. Names inside are
 * safe single segments, unique (case-insensitively) within the archive.
 */
export function zipSelection(files: FileService, selection: FileSelection): Readable {
  // Documents (PDF, images) are compressed already: storing keeps the CPU free and the speed at disk speed.
  const archive = new ZipArchive({ store: true });
  const taken = new Set<string>();
  const chunks = selectionChunks(files, selection);
  let pending: string[] = [];
  const next = (): void => {
    try {
      let file: FileRecord | undefined;
      while (!file) {
        if (pending.length === 0) {
          const step = chunks.next();
          if (step.done) {
            void archive.finalize();
            return;
          }
          pending = step.value;
        }
        const id = pending.shift()!;
        file = tryGet(files, id);
      }
      const name = uniqueName(safeSegment(file.filename), file.stable_id.slice(0, 8), taken);
      archive.append(files.openContent(file), { name, date: new Date(file.updated_at) });
    } catch (error) {
      archive.destroy(error as Error);
    }
  };
  archive.on('entry', next);
  next();
  return archive;
}

function tryGet(files: FileService, id: string): FileRecord | undefined {
  try {
    return files.get(id);
  } catch {
    // Deleted since it was selected: the zip holds the files that still exist.
    return undefined;
  }
}

/** Checks a selection from a request body: ids, or a filter, never neither. */
export function parseSelection(body: unknown): FileSelection {
  const value = body as { ids?: unknown; filter?: unknown; except?: unknown } | null;
  if (value && Array.isArray(value.ids)) {
    if (!value.ids.every((id) => typeof id === 'string')) throw new BadRequestError('ids must be an array of file ids');
    if (value.ids.length === 0) throw new BadRequestError('ids is empty: select at least one file');
    return { ids: value.ids as string[] };
  }
  if (value && value.filter && typeof value.filter === 'object') {
    const f = value.filter as Record<string, unknown>;
    const filter: Pick<FileFilter, 'collection' | 'label' | 'docId' | 'q'> = {};
    for (const [key, target] of [['collection', 'collection'], ['label', 'label'], ['doc_id', 'docId'], ['q', 'q']] as const) {
      if (f[key] === undefined || f[key] === '') continue;
      if (typeof f[key] !== 'string') throw new BadRequestError(`filter.${key} must be a string`);
      filter[target] = f[key];
    }
    const except = Array.isArray(value.except) ? value.except.filter((id): id is string => typeof id === 'string') : [];
    return { filter, except };
  }
  throw new BadRequestError('a selection needs `ids` (an array of file ids) or `filter` (collection, label, doc_id, q)');
}
