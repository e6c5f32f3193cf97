import fs from 'node:fs';
import path from 'node:path';
import { SyncInProgressError } from './errors.ts';

/**
 * One sync at a time per data dir, across processes (the server and a CLI `docsync sync` on the same
 * data dir): a lock file made with O_EXCL holding the owner's pid. A file whose process is gone was
 * left by a crash and is taken over.
 */
export function acquireLocalSyncLock(dataDir: string): () => void {
  const file = path.join(dataDir, 'sync.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() }), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (ownerAlive(file)) throw new SyncInProgressError();
      fs.rmSync(file, { force: true });
    }
  }
  throw new SyncInProgressError();
}

function ownerAlive(file: string): boolean {
  let pid: number;
  try {
    pid = (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid;
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
