import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { interruptible } from '../../src/cli/interrupt.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { RemoteLock } from '../../src/remote/lock.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';

/** A CLI io whose stderr is kept, and an `exit` that records its code instead of ending the test process. */
function harness() {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const io = { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {}, cwd: '/' } as CliIo;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const exit = ((code: number) => resolveExit(code)) as (code: number) => never;
  return { io, exit, exited, stderr: () => text };
}

const listenersBefore = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };

describe('Ctrl-C in a CLI command (interruptible)', () => {
  it('exits 130 at once, silently, when no remote lock is held', async () => {
    const h = harness();
    let finish!: () => void;
    const command = interruptible(h.io, () => new Promise<void>((resolve) => (finish = resolve)), h.exit);
    process.emit('SIGINT', 'SIGINT');
    expect(await h.exited).toBe(130);
    expect(h.stderr()).toBe('');
    finish(); // the real exit never returns; here the command ends, and its signal handlers go
    await command;
    expect(process.listenerCount('SIGINT')).toBe(listenersBefore.SIGINT);
  });

  it('gives a held lock back before exiting (143 on SIGTERM); the command itself is abandoned', async () => {
    const h = harness();
    const clock = new ManualClock();
    const remote = new MemoryRemote({ clock });
    const lock = new RemoteLock(remote, clock, seededIdSource(1), async () => undefined, {
      ownerId: 'cli',
      ttlMs: 60_000,
      waitMs: 0,
      exclusiveMkcol: true,
      timers: clock,
    });
    let acquired!: () => void;
    let finish!: () => void;
    const holding = new Promise<void>((resolve) => (acquired = resolve));
    const command = interruptible(
      h.io,
      async () => {
        await lock.acquire();
        acquired();
        await new Promise<void>((resolve) => (finish = resolve)); // a transfer that does not end by itself
      },
      h.exit,
    );
    await holding;
    expect(await remote.stat(remotePaths.lockDir)).toBeDefined();
    process.emit('SIGTERM', 'SIGTERM');
    expect(await h.exited).toBe(143);
    expect(await remote.stat(remotePaths.lockDir)).toBeUndefined();
    expect(h.stderr()).toContain('terminated: giving the remote lock back');
    expect(h.stderr()).toContain('remote lock released');
    finish();
    await command;
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore.SIGTERM);
  });
});
