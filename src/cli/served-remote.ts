import { describeRemote } from '../config.ts';
import type { Docsync } from '../docsync.ts';
import { println, type CliIo } from './io.ts';

/** The remote `serve` last ran with on this data dir, as `describeRemote` shows it (no password). */
const SERVED_REMOTE_KEY = 'served_remote';

/** `serve` notes its remote, so that a CLI command run with other settings can say so. */
export function recordServedRemote(docsync: Docsync): void {
  docsync.syncState.set(SERVED_REMOTE_KEY, describeRemote(docsync.config.remote));
}

/**
 * A command configured with another remote than the data dir's server (started with settings the
 * command did not get: another environment, another config file) would report or sync against a
 * remote the server does not use. Said on stderr, so `--json` output stays clean.
 */
export function warnIfOtherRemote(docsync: Docsync, io: CliIo): void {
  const served = docsync.syncState.get(SERVED_REMOTE_KEY);
  const mine = describeRemote(docsync.config.remote);
  if (served === undefined || served === mine) return;
  println(
    io.stderr,
    `warning: the server of this data dir uses the remote ${served}, but this command uses ${mine}: ` +
      "give it the server's settings (the same --config or environment; 'docsync init' writes them to a config file both read)",
  );
}
