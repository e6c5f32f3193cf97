import type { Command } from 'commander';
import type { SyncStatusReport } from '../sync/sync-service.ts';
import { withDocsync } from './context.ts';
import { CommandExit, EXIT } from './exit-codes.ts';
import { println, type CliIo } from './io.ts';

export function registerStatus(program: Command, io: CliIo): void {
  program
    .command('status')
    .description('is there anything to sync? Local changes, the remote version, what the server honours')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const status = await docsync.sync.status();
        if (opts.json) println(io.stdout, JSON.stringify(status, null, 2));
        else printStatus(io, status);
        // Like `git status`, pending changes are not a failure; a remote that cannot be read is.
        if (status.remote_error_code === 'remote_unavailable') throw new CommandExit(EXIT.remoteUnreachable);
        if (status.remote_error_code !== null) throw new CommandExit(EXIT.error);
      }),
    );
}

function printStatus(io: CliIo, status: SyncStatusReport): void {
  const lines = [
    `remote:          ${status.remote}`,
    `local changes:   ${status.unsynced_count}`,
    `versions:        local ${status.local_version ?? 'never synced'}, remote ${status.remote_version ?? 'unknown'}`,
    `needs sync:      ${status.needs_sync ? 'yes' : 'no'}`,
    `last sync:       ${status.last_sync_time ?? 'never'}`,
  ];
  if (status.remote_error) lines.push(`remote error:    ${status.remote_error}`);
  const caps = status.remote_capabilities;
  if (caps) {
    lines.push(
      `lock:            ${caps.exclusiveMkcol ? 'atomic (MKCOL has one winner)' : 'advisory: this server lets several MKCOLs win; the commit check keeps data safe'}`,
      `server honours:  If-None-Match ${yesNo(caps.conditionalPut)}, If-Match ${yesNo(caps.ifMatch)}, ETag changes on every write ${yesNo(caps.etagChangesOnWrite)}`,
    );
  }
  for (const line of lines) println(io.stdout, line);
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');
