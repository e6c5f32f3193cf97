import { trackHeldLocks } from '../remote/lock.ts';
import { println, type CliIo } from './io.ts';

/** Exit codes of a command stopped by a signal: 128 + the signal's number, as shells report them. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** How long Ctrl-C waits for the remote lock to be given back before exiting anyway. */
const RELEASE_BUDGET_MS = 10_000;

/**
 * Runs a command so that Ctrl-C (or SIGTERM) gives the remote lock back before the process exits.
 * Without this, Node dies at once and other instances wait for the lock to expire
 * (DOCSYNC_LOCK_TTL) before they can sync. The command itself is abandoned, not wound down: a sync
 * is safe to stop at any point (blobs before the metadata that names them, `version.txt` switched
 * last, local rows marked synced after that), and the next sync finishes the job. Were this process
 * to go on after the release, its commit would still be stopped by the lock check before the switch.
 *
 * A second Ctrl-C exits at once. The exit code is 130 (SIGINT) or 143 (SIGTERM).
 */
export async function interruptible<T>(io: CliIo, run: () => Promise<T>, exit: (code: number) => never = process.exit): Promise<T> {
  const locks = trackHeldLocks();
  let interrupted = false;
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES) => {
    const code = SIGNAL_EXIT_CODES[signal];
    if (interrupted || locks.count() === 0) return exit(code);
    interrupted = true;
    println(io.stderr, `\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: giving the remote lock back (Ctrl-C again to quit at once)`);
    const budget = new Promise<'late'>((resolve) => setTimeout(resolve, RELEASE_BUDGET_MS, 'late'));
    void Promise.race([locks.releaseAll(), budget])
      .then((released) => {
        if (released === 'late') println(io.stderr, 'the remote did not answer in time: the lock expires by itself (DOCSYNC_LOCK_TTL)');
        else if (released > 0) println(io.stderr, 'remote lock released');
      })
      .catch((error: unknown) => println(io.stderr, `could not release the remote lock (it expires by itself): ${String(error)}`))
      .finally(() => exit(code));
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await run();
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
