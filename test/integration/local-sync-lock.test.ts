import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLocalSyncLock, localSyncLockHeldElsewhere, processIdentity } from '../../src/sync/local-sync-lock.ts';
import { createInstance, tempDir, type TestInstance } from '../support/instance.ts';

const LOCK_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/sync/local-sync-lock.ts');

describe('the local sync lock (sync.lock) across processes', () => {
  const children: ChildProcess[] = [];
  let instance: TestInstance | undefined;
  let remote: ReturnType<typeof tempDir> | undefined;
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    instance?.cleanup();
    remote?.remove();
    instance = undefined;
    remote = undefined;
  });

  function startInstance(): TestInstance {
    remote = tempDir('docsync-lock-remote-');
    instance = createInstance({ DOCSYNC_REMOTE: `file://${remote.dir}` });
    return instance;
  }

  /** Starts `command`, resolves once it printed `ready` (or right away when `ready` is undefined). */
  async function start(command: string, args: string[], ready?: string): Promise<ChildProcess> {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    if (ready) {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => c.toString().includes(ready) && resolve());
        child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
      });
    }
    return child;
  }

  it.each([
    ['the pid only (older docsync)', (pid: number) => ({ pid, started_at: '2020-01-01T00:00:00.000Z' })],
    ['the pid and another start time', (pid: number) => ({ ...processIdentity(pid), start_ticks: processIdentity(pid).start_ticks! - 1 })],
  ])('a lock naming a live unrelated process by %s is stale: a sync proceeds', async (_name, lockOf) => {
    const { docsync, dataDir } = startInstance();
    const sleeper = await start('sleep', ['30']);
    // Written before the sleeper existed, as a crashed sync would have left it for a later process to reuse its pid.
    fs.writeFileSync(path.join(dataDir, 'sync.lock'), JSON.stringify(lockOf(sleeper.pid!)));
    const past = Date.now() / 1000 - 60;
    fs.utimesSync(path.join(dataDir, 'sync.lock'), past, past);
    expect(localSyncLockHeldElsewhere(dataDir)).toBe(false);
    expect((await docsync.sync.status()).sync_in_progress).toBe(false);
    await expect(docsync.sync.sync()).resolves.toMatchObject({ errors: 0 });
    expect(fs.existsSync(path.join(dataDir, 'sync.lock'))).toBe(false);
  });

  it('a lock held by a live docsync sync in another process still gives 409, and the status says a sync runs', async () => {
    const { docsync, dataDir } = startInstance();
    const script = `const { acquireLocalSyncLock } = await import(${JSON.stringify(LOCK_MODULE)});
      acquireLocalSyncLock(${JSON.stringify(dataDir)}); console.log('held'); setTimeout(() => {}, 30000);`;
    const holder = await start(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], 'held');
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'sync.lock'), 'utf8'))).toMatchObject(processIdentity(holder.pid!));
    expect(localSyncLockHeldElsewhere(dataDir)).toBe(true);
    expect(() => acquireLocalSyncLock(dataDir)).toThrow(expect.objectContaining({ status: 409 }));
    expect((await docsync.sync.status()).sync_in_progress).toBe(true);
    await expect(docsync.sync.sync()).rejects.toMatchObject({ status: 409 });

    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    // Its owner is gone: taken over.
    expect((await docsync.sync.status()).sync_in_progress).toBe(false);
    await expect(docsync.sync.sync()).resolves.toMatchObject({ errors: 0 });
  });
});
