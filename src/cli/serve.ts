import type { Command } from 'commander';
import { describeRemote, OPTIONS, type OptionName } from '../config.ts';
import { dataPaths, openDocsync } from '../docsync.ts';
import { startServer } from '../http/server.ts';
import { sweepTempFiles } from '../store/temp-sweep.ts';
import { localSyncLockHeldElsewhere } from '../sync/local-sync-lock.ts';
import { addConfigOptions, configFrom } from './config-options.ts';
import { println, type CliIo } from './io.ts';

export function registerServe(program: Command, io: CliIo): void {
  const names = (Object.keys(OPTIONS) as OptionName[]).filter((n) => n !== 'dataDir');
  addConfigOptions(program.command('serve').description('start the HTTP server'), names).action(async (_opts, command: Command) => {
    const config = configFrom(command, io);
    // Makes a new data dir if there is none; refuses lost or unreadable local state (`docsync recover`).
    const docsync = openDocsync(config);
    const swept = await sweepTempFiles(dataPaths(config.dataDir).tmp, docsync.clock.now(), {
      syncRunningElsewhere: localSyncLockHeldElsewhere(config.dataDir),
    });
    const admin = await docsync.auth.ensureAdmin(config.adminPassword);
    if (admin.generatedPassword) {
      // Shown once, on the terminal only: the logger never sees it.
      println(io.stderr, `Created user 'admin' with password: ${admin.generatedPassword}`);
      println(io.stderr, "Change it with 'docsync user passwd admin'. It will not be shown again.");
    } else if (admin.created) {
      println(io.stderr, "Created user 'admin' with the password from DOCSYNC_ADMIN_PASSWORD.");
    }
    const server = await startServer(docsync, { handleSignals: true });
    if (swept.removed > 0) server.app.log.info(swept, 'swept temp files left by killed transfers');
    println(io.stderr, `docsync listening on ${server.url} (data in ${config.dataDir}, remote ${describeRemote(config.remote)})`);
    // A failed background sync is logged once, by the server's sync log line (no error object:
    // a transport error may carry request details).
    docsync.sync.startPeriodic(config.syncIntervalSeconds);
  });
}
