import type { Command } from 'commander';
import { openDocsync, type Docsync } from '../docsync.ts';
import { configFrom } from './config-options.ts';
import { interruptible } from './interrupt.ts';
import type { CliIo } from './io.ts';
import { warnIfOtherRemote } from './served-remote.ts';

/**
 * Opens the data dir for one command and closes it afterwards, whatever happens. A data dir that
 * does not exist is refused (only `serve` makes a new one): a mistyped path must not become an
 * empty store. The page check (`quick_check`) is left to `serve` and `recover`: runtime errors of
 * a corrupt database are reported clearly anyway.
 */
export async function withDocsync<T>(command: Command, io: CliIo, run: (docsync: Docsync) => Promise<T>): Promise<T> {
  const docsync = openDocsync(configFrom(command, io), { create: false, verifyDatabase: false });
  try {
    warnIfOtherRemote(docsync, io);
    // Ctrl-C gives a held remote lock back before exiting (130).
    return await interruptible(io, () => run(docsync));
  } finally {
    docsync.close();
  }
}
