import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { FileRecord } from '../domain/file.ts';
import { AppError, describeFileError, formatBytes } from '../errors.ts';
import { withDocsync } from './context.ts';
import { println, type CliIo } from './io.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerFiles(program: Command, io: CliIo): void {
  const files = program.command('files').description('work with the documents in the data dir');

  files
    .command('ls')
    .description('list files, newest first')
    .option('--collection <name>', 'only files in this collection')
    .option('--label <name>', 'only files with this label')
    .option('--doc-id <id>', 'only files of this document')
    .option('-q, --query <text>', 'filename contains this text')
    .option('--include-deleted', 'also list deleted files (tombstones)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action((opts: LsOptions, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive whole number, got '${opts.limit}'`);
        const page = docsync.files.list({
          ...(opts.collection !== undefined && { collection: opts.collection }),
          ...(opts.label !== undefined && { label: opts.label }),
          ...(opts.docId !== undefined && { docId: opts.docId }),
          ...(opts.query !== undefined && { q: opts.query }),
          includeDeleted: opts.includeDeleted === true,
          limit,
        });
        if (opts.json) return println(io.stdout, JSON.stringify({ files: page.files, total: page.total }, null, 2));
        for (const file of page.files) println(io.stdout, fileLine(file));
        println(io.stderr, `${page.files.length} of ${page.total} file(s)`);
      }),
    );

  files
    .command('put <paths...>')
    .description('add files from disk. A path that cannot be added (missing, a folder, unreadable) does not stop the others: every failure is listed at the end (exit 1)')
    .option('--collection <name>', 'add to this collection (repeatable)', collect)
    .option('--label <name>', 'add this label (repeatable)', collect)
    .option('--doc-id <id>', 'document the files belong to')
    .action((paths: string[], opts: PutOptions, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        // Like `import`: one bad path among many must not leave the person guessing which were added.
        const failed: Array<{ path: string; error: string }> = [];
        for (const p of paths) {
          const source = path.resolve(io.cwd, p);
          try {
            // Its size on disk lets a large file be hashed off the main thread (a missing path fails below).
            const size = fs.statSync(source, { throwIfNoEntry: false })?.size;
            const file = await docsync.files.create(
              fs.createReadStream(source),
              {
                filename: path.basename(source),
                collections: opts.collection ?? [],
                labels: opts.label ?? [],
                ...(opts.docId !== undefined && { docId: opts.docId }),
              },
              size,
            );
            println(io.stdout, fileLine(file));
          } catch (error) {
            failed.push({ path: p, error: describeFileError(error, { EISDIR: "is a folder (use 'docsync import' for folders)" }) });
          }
        }
        for (const f of failed) println(io.stderr, `failed: ${f.path}: ${f.error}`);
        if (failed.length > 0) {
          throw new AppError('put_incomplete', `${failed.length} of ${paths.length} file(s) were not added (listed above); the rest was`, 422);
        }
      }),
    );

  files
    .command('get <id>')
    .description("write a file's content to --output, or to stdout")
    .option('-o, --output <path>', 'where to write it')
    .action((id: string, opts: { output?: string }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const file = docsync.files.get(id);
        const target = opts.output ? fs.createWriteStream(path.resolve(io.cwd, opts.output)) : io.stdout;
        await pipeline(docsync.files.openContent(file), target, { end: opts.output !== undefined });
      }),
    );

  files
    .command('rm <ids...>')
    .description('delete files (tombstones that the sync propagates)')
    .action((ids: string[], _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        for (const id of ids) {
          docsync.files.delete(id);
          println(io.stdout, `deleted ${id}`);
        }
      }),
    );

  files
    .command('tag <id>')
    .description('change collections and labels (metadata only: no content moves on sync)')
    .option('--add-collection <name>', 'repeatable', collect)
    .option('--remove-collection <name>', 'repeatable', collect)
    .option('--add-label <name>', 'repeatable', collect)
    .option('--remove-label <name>', 'repeatable', collect)
    .action((id: string, opts: TagOptions, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const file = docsync.files.get(id);
        const edit = (current: string[], add: string[] = [], remove: string[] = []): string[] =>
          [...current, ...add].filter((t) => !remove.includes(t));
        const updated = docsync.files.updateMetadata(id, {
          collections: edit(file.collections, opts.addCollection, opts.removeCollection),
          labels: edit(file.labels, opts.addLabel, opts.removeLabel),
        });
        println(io.stdout, fileLine(updated));
      }),
    );
}

interface LsOptions {
  collection?: string;
  label?: string;
  docId?: string;
  query?: string;
  includeDeleted?: boolean;
  limit: string;
  json?: boolean;
}

interface PutOptions {
  collection?: string[];
  label?: string[];
  docId?: string;
}

interface TagOptions {
  addCollection?: string[];
  removeCollection?: string[];
  addLabel?: string[];
  removeLabel?: string[];
}

/** One line per file: id, status, size, name, then collections and labels. */
export function fileLine(file: FileRecord): string {
  const tags = [
    file.collections.length > 0 ? `collections=${file.collections.join(',')}` : '',
    file.labels.length > 0 ? `labels=${file.labels.join(',')}` : '',
  ].filter(Boolean);
  const status = file.deleted ? 'deleted' : file.sync_status;
  return [file.stable_id, status.padEnd(14), formatSize(file.size).padStart(9), JSON.stringify(file.filename), ...tags].join('  ');
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return bytes % (1024 * 1024) === 0 ? formatBytes(bytes) : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
