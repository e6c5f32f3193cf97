import fs from 'node:fs';
import path from 'node:path';
import { SyncInProgressError } from './errors.ts';

/** Who holds the lock: a pid alone is not enough, pids are reused (after a crash, a reboot). */
export interface ProcessIdentity {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22); null without /proc. */
  start_ticks: number | null;
  /** /proc/sys/kernel/random/boot_id: a start time means nothing across a reboot. */
  boot_id: string | null;
}

export const LOCAL_SYNC_LOCK_FILE = 'sync.lock';

/**
 * One sync at a time per data dir, across processes (the server and a CLI `docsync sync` on the same
 * data dir): a lock file made with O_EXCL naming its owner. A file whose owner is gone — the process
 * ended, or its pid now belongs to another process (compared by start time and boot id where /proc
 * exists, by pid alone elsewhere) — was left by a crash and is taken over.
 */
export function acquireLocalSyncLock(dataDir: string): () => void {
  const file = path.join(dataDir, LOCAL_SYNC_LOCK_FILE);
  const me = processIdentity(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ ...me, started_at: new Date().toISOString() }), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (ownerAlive(file)) throw new SyncInProgressError();
      fs.rmSync(file, { force: true });
    }
  }
  throw new SyncInProgressError();
}

/** True when another live process holds this data dir's sync lock (one small file read). */
export function localSyncLockHeldElsewhere(dataDir: string): boolean {
  return ownerAlive(path.join(dataDir, LOCAL_SYNC_LOCK_FILE));
}

function ownerAlive(file: string): boolean {
  let owner: Partial<ProcessIdentity>;
  let writtenMs: number;
  try {
    owner = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ProcessIdentity>;
    writtenMs = fs.statSync(file).mtimeMs;
  } catch {
    return false;
  }
  const pid = owner.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid is alive: is it still the process that wrote the lock?
  const now = processIdentity(pid);
  if (owner.boot_id && now.boot_id && owner.boot_id !== now.boot_id) return false;
  if (typeof owner.start_ticks === 'number' && now.start_ticks !== null) return owner.start_ticks === now.start_ticks;
  // A lock naming the pid only (an older docsync): a process that started after the lock was
  // written cannot have written it. Without /proc the pid is all there is to compare.
  const startedMs = startTimeMs(now.start_ticks);
  return startedMs === null || startedMs <= writtenMs + 1000;
}

/** Wall-clock start of a process from its start ticks: boot time (/proc/stat btime) + ticks / USER_HZ (100 on Linux). */
function startTimeMs(ticks: number | null): number | null {
  if (ticks === null) return null;
  try {
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
    return btime === undefined ? null : Number(btime) * 1000 + ticks * 10;
  } catch {
    return null;
  }
}

/** This machine's identity of process `pid`; the /proc parts are null where /proc is missing. */
export function processIdentity(pid: number): ProcessIdentity {
  return { pid, start_ticks: startTicks(pid), boot_id: bootId() };
}

function startTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may hold spaces or ')': count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

let cachedBootId: string | null | undefined;

function bootId(): string | null {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId;
}
