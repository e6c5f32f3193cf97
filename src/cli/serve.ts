import type { Command } from 'commander';
import { describeRemote, OPTIONS, type OptionName } from '../config.ts';
import { dataPaths, openDocsync } from '../docsync.ts';
import { startServer } from '../http/server.ts';
import { sweepTempFiles } from '../store/temp-sweep.ts';
import { localSyncLockHeldElsewhere } from '../sync/local-sync-lock.ts';
import { addConfigOptions, configFrom } from './config-options.ts';
import { println, type CliIo } from './io.ts';
import { recordServedRemote } from './served-remote.ts';

export function registerServe(program: Command, io: CliIo): void {
  const names = (Object.keys(OPTIONS) as OptionName[]).filter((n) => n !== 'dataDir');
  const serve = program
    .command('serve')
    .description('start the HTTP server')
    .option('--init', 'make the data dir if it does not exist (without this, only the default ./data is made)');
  addConfigOptions(serve, names).action(async (opts: { init?: boolean }, command: Command) => {
    const config = configFrom(command, io);
    // A fresh machine's `npm start` makes the default data dir; a named one must exist (or --init):
    // a mistyped path or an unmounted disk must not become a new empty store. Lost or unreadable
    // local state is refused (`docsync recover`).
    const docsync = openDocsync(config, { create: config.dataDirIsDefault || opts.init === true });
    recordServedRemote(docsync);
    const swept = await sweepTempFiles(dataPaths(config.dataDir).tmp, docsync.clock.now(), {
      syncRunningElsewhere: localSyncLockHeldElsewhere(config.dataDir),
    });
    const admin = await docsync.auth.ensureAdmin(config.adminPassword);
    if (admin.generatedPassword) {
      // Shown once, on the terminal only: the logger never sees it.
      println(io.stderr, `Created user 'admin' with password: ${admin.generatedPassword}`);
      println(io.stderr, "Change it with 'docsync user passwd admin'. It will not be shown again.");
    } else if (admin.created) {
      println(io.stderr, "Created user 'admin' with the configured password (DOCSYNC_ADMIN_PASSWORD).");
    }
    const server = await startServer(docsync, { handleSignals: true });
    if (swept.removed > 0) server.app.log.info(swept, 'swept temp files left by killed transfers');
    const from = config.configFile ? `, config ${config.configFile}` : '';
    println(io.stderr, `docsync listening on ${server.url} (data in ${config.dataDir}, remote ${describeRemote(config.remote)}${from})`);
    // A failed background sync is logged once, by the server's sync log line (no error object:
    // a transport error may carry request details).
    docsync.sync.startPeriodic(config.syncIntervalSeconds);
  });
}
