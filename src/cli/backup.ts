import path from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../domain/clock.ts';
import { cryptoIdSource } from '../domain/ids.ts';
import { AppError } from '../errors.ts';
import { createBackup, restoreBackup } from '../services/backup.ts';
import { configFrom } from './config-options.ts';
import { withDocsync } from './context.ts';
import { formatSize } from './files.ts';
import { println, type CliIo } from './io.ts';

/** `backup` (online, while the server runs) and `restore-backup` (into an empty data dir). */
export function registerBackup(program: Command, io: CliIo): void {
  program
    .command('backup <file>')
    .description(
      'write a consistent backup of the data dir (database and the blobs it names) into one tar file, while the server ' +
        'runs. remote-state.db is left out: the next sync rebuilds it. The file appears only once complete (written under a ' +
        'hidden temp name beside it); temp files of an interrupted backup are removed by the next one into that folder',
    )
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const report = await createBackup(
          { db: docsync.db, dataDir: docsync.config.dataDir, clock: docsync.clock, instanceId: docsync.instanceId },
          path.resolve(io.cwd, file),
        );
        for (const name of report.swept) println(io.stderr, `removed what an interrupted backup left: ${name}`);
        if (opts.json) println(io.stdout, JSON.stringify(report, null, 2));
        else println(io.stdout, `backup written to ${report.file}: ${report.files} file(s), ${report.blobs} blob(s), ${formatSize(report.bytes)}`);
        if (report.missing.length > 0) {
          for (const blob of report.missing) println(io.stderr, `missing: ${blob}`);
          throw new AppError(
            'backup_incomplete',
            `the data dir lacks ${report.missing.length} blob(s) that files name (listed above): the backup was written without them; ` +
              "'docsync recover' or a sync may bring them back",
            422,
          );
        }
      }),
    );

  program
    .command('restore-backup <file>')
    .description(
      'restore a backup made by `docsync backup` into the data dir, which must not exist or be empty (stop the server first). ' +
        'Every blob is checked against its hash; nothing is restored unless every live file has its content. ' +
        'A restore that was interrupted leaves a data dir docsync refuses to open: run the same restore again to finish it',
    )
    .option('--force', 'restore into a non-empty data dir: its database is moved aside (not deleted), blobs are merged')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { force?: boolean; json?: boolean }, command: Command) => {
      const { dataDir } = configFrom(command, io);
      const report = await restoreBackup(path.resolve(io.cwd, file), dataDir, { force: opts.force ?? false, clock: systemClock, ids: cryptoIdSource });
      for (const name of report.swept) println(io.stderr, `removed what an interrupted restore left: ${name}`);
      if (report.resumed) println(io.stderr, `finished the restore of ${report.resumed.backup} that was interrupted (started ${report.resumed.started_at})`);
      if (opts.json) return println(io.stdout, JSON.stringify(report, null, 2));
      for (const blob of report.damaged) println(io.stderr, `damaged, left out: ${blob} (no live file needs it)`);
      for (const aside of report.movedAside) println(io.stderr, `moved aside: ${aside}`);
      println(io.stdout, `restored ${report.files} file(s) and ${report.blobs} blob(s) from the backup of ${report.createdAt} into ${report.dataDir}`);
    });
}
