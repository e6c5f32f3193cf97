import { AppError, ConfigError, LocalStateError } from '../errors.ts';
import { RemoteUnavailableError } from '../remote/errors.ts';

/**
 * What `docsync` exits with, for scripts and service managers (README "Exit codes"). Like rclone's,
 * a code says what to do next: nothing, fix the command, resolve conflicts, or try again later.
 */
export const EXIT = {
  ok: 0,
  /** The command failed, or part of it did (a transfer that will be retried, a file not imported), or for a dry run would. */
  error: 1,
  /** Bad usage or configuration, or a data dir that cannot be used as it is: the person must act. */
  usage: 2,
  /** The sync went through, but files are in conflict (or, for a dry run, would be): `docsync conflicts`. */
  conflicts: 3,
  /** The remote did not answer, or answered "busy/unavailable" (5xx, 423, 429, timeouts): try again later. */
  remoteUnreachable: 4,
} as const;

/** Thrown by a command that has said all it has to say and only sets the exit code. */
export class CommandExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The exit code of a command that threw. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CommandExit) return error.code;
  if (error instanceof ConfigError || error instanceof LocalStateError) return EXIT.usage;
  if (error instanceof RemoteUnavailableError) return EXIT.remoteUnreachable;
  // A 400 from a service is a wrong argument (`resolve <id> sideways`): usage.
  if (error instanceof AppError && error.status === 400) return EXIT.usage;
  return EXIT.error;
}
