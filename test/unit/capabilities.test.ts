import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { probeCapabilities } from '../../src/remote/capabilities.ts';
import { RemoteError, RemoteUnavailableError } from '../../src/remote/errors.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';

const NAME_MAX = 255;
const lastSegment = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const noSleep = async () => undefined;

/** A memory remote on a file system with NAME_MAX: mkdir of a longer name fails, reported or not. */
class NameMaxRemote extends MemoryRemote {
  constructor(private readonly failedMkdir: 'reported' | 'ignored' | 'unreachable') {
    super({ clock: new ManualClock() });
  }
  override async mkdir(path: string): Promise<'created' | 'exists'> {
    if (lastSegment(path).length <= NAME_MAX) return super.mkdir(path);
    // sabre/dav's FS node: mkdir() fails with ENAMETOOLONG, the warning is ignored, 201 goes out.
    if (this.failedMkdir === 'ignored') return 'created';
    if (this.failedMkdir === 'unreachable') throw new RemoteUnavailableError('connection reset');
    throw new RemoteError('The WebDAV server answered 403', { status: 403 });
  }
}

const probe = (remote: MemoryRemote) => probeCapabilities(remote, seededIdSource(1), 'now', noSleep);

describe('capability probe: is the lock atomic?', () => {
  it('a server that says "created" for a folder it failed to make is not atomic (sabre/dav)', async () => {
    const caps = await probe(new NameMaxRemote('ignored'));
    expect(caps.exclusiveMkcol).toBe(false);
    // The other answers are untouched: sabre honours both preconditions.
    expect(caps).toMatchObject({ conditionalPut: true, ifMatch: true });
  });

  it('a server that refuses the impossible folder is atomic (Apache, nginx, lighttpd)', async () => {
    expect((await probe(new NameMaxRemote('reported'))).exclusiveMkcol).toBe(true);
  });

  it('a server whose file system takes the long name simply has the folder: atomic', async () => {
    const remote = new MemoryRemote({ clock: new ManualClock() });
    expect((await probe(remote)).exclusiveMkcol).toBe(true);
    // Cleaned up with the scratch folder.
    expect([...remote.snapshot().keys()]).toEqual([]);
  });

  it('an unreachable server fails the probe instead of being called atomic', async () => {
    await expect(probe(new NameMaxRemote('unreachable'))).rejects.toBeInstanceOf(RemoteUnavailableError);
  });
});
