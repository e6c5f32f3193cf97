import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Cleanups that must run however the bench ends: normally (each owner calls its own), on an
 * exception, or on Ctrl-C — `finally` blocks do not run when a signal ends the process, and a
 * spawned server would outlive us. Every cleanup is synchronous so it can run in `exit` too.
 */
const pending = new Set<() => void>();

export function onCleanup(fn: () => void): () => void {
  pending.add(fn);
  return () => {
    if (pending.delete(fn)) fn();
  };
}

function runAll(): void {
  for (const fn of [...pending]) {
    pending.delete(fn);
    try {
      fn();
    } catch {
      // Best effort: one failed cleanup must not stop the others.
    }
  }
}

export function installCleanupOnExit(): void {
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      runAll();
      process.exit(130);
    });
  }
}

/** A fresh temp directory; `remove()` deletes it (and it is deleted on exit if nobody did). */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `docsync-bench-${label}-`));
  const remove = onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, remove };
}
