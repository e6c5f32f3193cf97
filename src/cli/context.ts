import type { Command } from 'commander';
import { openDocsync, type Docsync } from '../docsync.ts';
import { configFrom } from './config-options.ts';
import type { CliIo } from './io.ts';

/** Opens the data dir for one command and closes it afterwards, whatever happens. */
export async function withDocsync<T>(command: Command, io: CliIo, run: (docsync: Docsync) => Promise<T>): Promise<T> {
  const docsync = openDocsync(configFrom(command, io));
  try {
    return await run(docsync);
  } finally {
    docsync.close();
  }
}
