import { isoUtc } from '../domain/clock.ts';
import type { Command } from 'commander';
import { AppError } from '../errors.ts';
import { collectGarbage, type GarbageCollectionReport } from '../sync/garbage-collection.ts';
import { withDocsync } from './context.ts';
import { println, type CliIo } from './io.ts';

export function registerGc(program: Command, io: CliIo): void {
  program
    .command('gc')
    .description(
      'delete what nothing needs any more: remote snapshots and journals past the history window, remote and local blobs no row ' +
        'names (older than DOCSYNC_GC_GRACE_HOURS), leftover temp files. Needs an instance in step with the remote (sync first)',
    )
    .option('--dry-run', 'show the figures; delete nothing')
    .option('--json', 'print the report as JSON')
    .action((opts: { dryRun?: boolean; json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const since = isoUtc(docsync.clock.now() - docsync.config.historyDays * 24 * 3600 * 1000);
        const report = await collectGarbage(docsync, {
          dryRun: opts.dryRun ?? false,
          log: (m) => println(io.stderr, m),
          historyReferences: (hash, fileType) => docsync.historyRepository.namesBlob(hash, fileType, since),
        });
        if (opts.json) println(io.stdout, JSON.stringify(report, null, 2));
        else for (const line of table(report)) println(io.stdout, line);
        const errors = report.remote?.errors ?? 0;
        if (errors > 0) throw new AppError('gc_errors', `${errors} remote request(s) failed; the rest was collected (run again later)`, 502);
      }),
    );
}

function table(report: GarbageCollectionReport): string[] {
  const { remote, local } = report;
  const row = (label: string, r: string | number, l: string | number) => `${label.padEnd(20)}${String(r).padStart(12)}${String(l).padStart(12)}`;
  return [
    report.dry_run ? 'Dry run: nothing was deleted. These figures say what gc would do.' : 'Garbage collected.',
    remote ? `remote at version ${report.remote_version}` : `remote: not collected (${report.remote_skipped})`,
    row('', 'remote', 'local'),
    row('blobs deleted', remote?.blobs_deleted ?? '-', local.blobs_deleted),
    row('bytes freed', remote ? megabytes(remote.bytes_freed) : '-', megabytes(local.bytes_freed)),
    row('blobs kept', remote?.blobs_kept ?? '-', local.blobs_kept),
    row('snapshots deleted', remote?.snapshots_deleted ?? '-', '-'),
    row('journals deleted', remote?.journals_deleted ?? '-', '-'),
    row('temp files removed', '-', local.temp_removed),
    row('errors', remote?.errors ?? '-', '-'),
  ];
}

function megabytes(bytes: number): string {
  return bytes < 1e6 ? `${bytes} B` : `${(bytes / 1e6).toFixed(1)} MB`;
}
