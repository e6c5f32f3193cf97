import type { Command } from 'commander';
import type { OptionName } from '../config.ts';
import { recoverDataDir } from '../sync/recovery.ts';
import { addConfigOptions, configFrom } from './config-options.ts';
import { println, type CliIo } from './io.ts';

const REMOTE_OPTIONS: OptionName[] = ['remote', 'webdavBaseUrl', 'webdavUsername', 'webdavPassword', 'webdavRemoteRoot'];

export function registerRecover(program: Command, io: CliIo): void {
  addConfigOptions(
    program
      .command('recover')
      .description(
        "rebuild the index of a data dir whose database was lost or broken: the old database is moved aside (never deleted), " +
          "the remote's state is adopted, and local blobs no file names come back as files in the collection 'recovered'. Safe to re-run",
      )
      .option('--json', 'print the report as JSON'),
    REMOTE_OPTIONS,
  ).action(async (opts: { json?: boolean }, command: Command) => {
    const report = await recoverDataDir(configFrom(command, io));
    if (opts.json) return println(io.stdout, JSON.stringify(report, null, 2));
    const lines = [
      report.database === 'kept'
        ? 'database:        healthy, kept'
        : `database:        ${report.database}; a fresh one was made${report.moved_aside.length > 0 ? `, the old one moved to ${report.moved_aside.join(', ')}` : ''}`,
      report.adopted === null ? `remote:          not adopted (${report.adopt_skipped})` : `remote:          ${report.adopted} file(s) adopted`,
      `recovered:       ${report.recovered} local blob(s) no file named, now files in the collection 'recovered' (shared by the next sync)`,
    ];
    if (report.damaged > 0) lines.push(`damaged:         ${report.damaged} blob(s) whose content does not match their hash, left alone`);
    if (report.temp_removed > 0) lines.push(`temp files:      ${report.temp_removed} leftover(s) removed`);
    for (const line of lines) println(io.stdout, line);
  });
}
