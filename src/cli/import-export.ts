import path from 'node:path';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { AppError } from '../errors.ts';
import { exportFolder } from '../services/folder-export.ts';
import { importFolder, type FoldersAs, type ImportReport } from '../services/folder-import.ts';
import { withDocsync } from './context.ts';
import { formatSize } from './files.ts';
import { println, type CliIo } from './io.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `import` and `export`: a folder tree in, every live file out (with a sidecar that `import` reads back). */
export function registerImportExport(program: Command, io: CliIo): void {
  program
    .command('import <folder>')
    .description(
      'add every file under a folder (recursively; hidden files skipped). Content already in the store is reported as a ' +
        'duplicate and skipped; files that cannot be read are listed at the end (exit 1). A docsync-export.json sidecar ' +
        '(from `docsync export`) gives back names, collections, labels, doc ids and metadata',
    )
    .option('--collection <name>', 'add every file to this collection (repeatable)', collect)
    .option('--label <name>', 'give every file this label (repeatable)', collect)
    .addOption(new Option('--folders-as <what>', "each sub-folder name on a file's path becomes one collection, or one label").choices(['collections', 'labels']))
    .option('--dry-run', 'read and check every file, write nothing: list what would be imported (with its collections and labels), what is already in the store, and what would fail (exit 1 then)')
    .option('--json', 'print the report as JSON')
    .action((folder: string, opts: ImportOptions, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const bar = progressBar(io, 'files');
        const { remote } = docsync.config;
        const report = await importFolder({ files: docsync.files, repository: docsync.fileRepository }, path.resolve(io.cwd, folder), {
          collections: opts.collection ?? [],
          labels: opts.label ?? [],
          ...(opts.foldersAs !== undefined && { foldersAs: opts.foldersAs }),
          exclude: [docsync.config.dataDir, ...(remote.kind === 'folder' ? [remote.path] : [])],
          dryRun: opts.dryRun === true,
          onProgress: bar.update,
        }).finally(bar.stop);
        if (opts.json) println(io.stdout, JSON.stringify(report, null, 2));
        else if (report.dry_run) for (const line of planLines(report)) println(io.stdout, line);
        else {
          for (const d of report.duplicates) println(io.stderr, `duplicate: ${d.path} (same content as ${d.existing_id} ${JSON.stringify(d.existing_filename)})`);
          for (const s of report.skipped) println(io.stderr, `skipped:   ${s.path} (${s.reason})`);
          for (const f of report.failed) println(io.stderr, `failed:    ${f.path}: ${f.error}`);
          println(
            io.stdout,
            `imported ${report.imported.length}, duplicates ${report.duplicates.length}, failed ${report.failed.length} ` +
              `(${report.total_files} file(s), ${formatSize(report.total_bytes)}${report.sidecar ? ', names and metadata from docsync-export.json' : ''})`,
          );
        }
        if (report.failed.length > 0 && report.dry_run) {
          throw new AppError('import_would_fail', `${report.failed.length} file(s) would not be imported (listed above); nothing was written`, 422);
        }
        if (report.failed.length > 0) throw new AppError('import_incomplete', `${report.failed.length} file(s) were not imported (listed above); the rest was`, 422);
      }),
    );

  program
    .command('export <folder>')
    .description(
      'write every live file into a new or empty folder under a readable name (in a sub-folder named after its first ' +
        'collection), plus docsync-export.json with every name, collection, label, doc id and metadata, which `docsync import` reads back',
    )
    .option('--json', 'print the report as JSON')
    .action((folder: string, opts: { json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const bar = progressBar(io, 'files');
        const deps = { files: docsync.files, repository: docsync.fileRepository, clock: docsync.clock, instanceId: docsync.instanceId };
        const report = await exportFolder(deps, path.resolve(io.cwd, folder), bar.update).finally(bar.stop);
        if (opts.json) println(io.stdout, JSON.stringify(report, null, 2));
        else {
          for (const f of report.failed) println(io.stderr, `failed: ${f.id} ${JSON.stringify(f.filename)}: ${f.error}`);
          println(io.stdout, `exported ${report.exported} file(s), ${formatSize(report.bytes)}; metadata in ${report.manifest}`);
        }
        if (report.failed.length > 0) throw new AppError('export_incomplete', `${report.failed.length} file(s) were not exported (listed above)`, 422);
      }),
    );
}

/** A dry run's plan, one line per file (like `sync --dry-run`), then the totals. */
function planLines(report: ImportReport): string[] {
  const tags = (f: { collections: string[]; labels: string[] }): string =>
    [f.collections.length > 0 ? `collections=${f.collections.join(',')}` : '', f.labels.length > 0 ? `labels=${f.labels.join(',')}` : '']
      .filter(Boolean)
      .join('  ');
  // One line per file, whatever its name holds (a newline is a legal character in a file name).
  const shown = (p: string): string => (/[\u0000-\u001f\u007f]/.test(p) ? JSON.stringify(p) : p);
  return [
    ...report.imported.map((f) => `import     ${shown(f.path)}  as ${JSON.stringify(f.filename)}  ${tags(f)}`.trimEnd()),
    ...report.duplicates.map((d) =>
      d.existing_id !== undefined
        ? `present    ${shown(d.path)}  same content as ${d.existing_id} ${JSON.stringify(d.existing_filename)} (already in the store)`
        : `duplicate  ${shown(d.path)}  same content as ${shown(d.same_as_path ?? '')} (in this folder)`,
    ),
    ...report.skipped.map((s) => `skip       ${shown(s.path)}  ${s.reason}`),
    ...report.failed.map((f) => `fail       ${shown(f.path)}  ${f.error}`),
    `Dry run: nothing was imported. Would import ${report.imported.length}, duplicates ${report.duplicates.length}, ` +
      `would fail ${report.failed.length} (${report.total_files} file(s), ${formatSize(report.total_bytes)}` +
      `${report.sidecar ? ', names and metadata from docsync-export.json' : ''})`,
  ];
}

interface ImportOptions {
  dryRun?: boolean;
  collection?: string[];
  label?: string[];
  foldersAs?: FoldersAs;
  json?: boolean;
}

/**
 * A bar of files and bytes on stderr, with speed and time left (cli-progress draws on a terminal
 * only: piped output gets the summary alone). Percent and ETA go by bytes, which is where time goes.
 */
export function progressBar(io: CliIo, unit: string): { update: (p: { files: number; totalFiles: number; bytes: number; totalBytes: number }) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: ` {bar} {percentage}% | {files}/{totalFiles} ${unit} | {done} of {size} | {speed}/s | ETA {eta_formatted}`,
      stream: io.stderr as NodeJS.WriteStream,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let running = false;
  return {
    update: (p) => {
      const elapsed = Math.max(0.001, (Date.now() - started) / 1000);
      const payload = { files: p.files, totalFiles: p.totalFiles, done: formatSize(p.bytes), size: formatSize(p.totalBytes), speed: formatSize(Math.round(p.bytes / elapsed)) };
      // A total of 0 bytes (only empty files) would never reach 100%: count 1 then.
      const total = Math.max(1, p.totalBytes);
      if (!running) bar.start(total, p.bytes, payload);
      else {
        bar.setTotal(total);
        bar.update(p.bytes, payload);
      }
      running = true;
    },
    stop: () => {
      if (running) bar.stop();
      running = false;
    },
  };
}
