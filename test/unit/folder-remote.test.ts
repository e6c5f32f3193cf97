import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import {
  PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError,
} from '../../src/remote/errors.ts';
import { FolderRemote, translateFsError } from '../../src/remote/folder-remote.ts';

let root: string;
let remote: FolderRemote;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'docsync-folder-test-'));
  remote = new FolderRemote(root, seededIdSource(1));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

/** Another instance on the same share: its own remote object and its own random source. */
const instance = (seed: number) => new FolderRemote(root, seededIdSource(seed));

describe('FolderRemote atomic primitives', () => {
  it('of 20 concurrent If-None-Match creators exactly one wins (20 rounds)', async () => {
    await remote.mkdir('race');
    for (let round = 0; round < 20; round++) {
      const target = `race/owner-${round}`;
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
        instance(round * 100 + i + 2).put(target, Buffer.from(`creator ${i}`), { ifNoneMatch: '*' })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PreconditionFailedError);
      expect(await remote.getBytes(target)).toEqual(Buffer.from(`creator ${winners[0]}`));
    }
    // No temp file survives, winner or loser.
    expect((await fsp.readdir(path.join(root, 'race'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('of 20 concurrent mkdirs exactly one is "created" (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => instance(i + 2).mkdir(`lock-${round}`)));
      expect(answers.filter((a) => a === 'created')).toHaveLength(1);
      expect(answers.filter((a) => a === 'exists')).toHaveLength(19);
    }
  });

  it('of 10 concurrent deleters of a folder exactly one gets true', async () => {
    await remote.mkdir('doomed');
    await remote.put('doomed/owner.json', Buffer.from('{}'));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => instance(i + 2).delete('doomed')));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await fsp.readdir(root)).toEqual([]);
  });
});

describe('FolderRemote paths', () => {
  const escapes = ['../outside', 'a/../../outside', '/etc/passwd', '..', 'a/..', './a', 'a//b', 'a/', 'a\\..\\b', 'a\0b'];

  it.each(escapes)('rejects %j for every operation', async (bad) => {
    const calls = [
      () => remote.stat(bad), () => remote.get(bad), () => remote.getBytes(bad), () => remote.list(bad),
      () => remote.put(bad, Buffer.from('x')), () => remote.delete(bad), () => remote.mkdir(bad),
    ];
    for (const call of calls) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(RemoteError);
      expect((error as Error).message).toMatch(/invalid remote path/);
    }
    expect(fs.existsSync(path.join(path.dirname(root), 'outside'))).toBe(false);
  });

  it('refuses to delete the root', async () => {
    await expect(remote.delete('')).rejects.toThrow(/root/);
  });

  it('describes itself as a file:// URL', () => {
    expect(remote.description).toBe(pathToFileURL(root).href);
    expect(remote.description).toMatch(/^file:\/\/\//);
  });
});

describe('FolderRemote temp files and torn reads', () => {
  it('hides temp files from list, also while a write is in progress', async () => {
    await remote.mkdir('d');
    await fsp.writeFile(path.join(root, 'd', '.stray.0123456789abcdef.tmp'), 'left by a crash');
    const body = new PassThrough();
    const writing = remote.put('d/slow.bin', { size: 8, open: () => body });
    body.write(Buffer.from('half'));
    while (!(await fsp.readdir(path.join(root, 'd'))).some((n) => n.startsWith('.slow.bin.'))) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await remote.list('d')).toEqual([]);
    expect(await remote.stat('d/slow.bin')).toBeUndefined();
    body.end(Buffer.from('done'));
    await writing;
    expect((await remote.list('d'))!.map((e) => e.name)).toEqual(['slow.bin']);
    expect(await remote.getBytes('d/slow.bin')).toEqual(Buffer.from('halfdone'));
  });

  it('a reader during 50 overwrites always sees one whole version', async () => {
    const version = (i: number) => Buffer.alloc(100_000 + i * 1_000, i);
    await remote.put('v.bin', version(0));
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 50; i++) await instance(7).put('v.bin', version(i));
      writing = false;
    })();
    let reads = 0;
    const check = (data: Buffer) => {
      const first = data[0]!;
      expect(data.length).toBe(100_000 + first * 1_000);
      expect(data.every((byte) => byte === first)).toBe(true);
      reads++;
    };
    const reader = async (useStream: boolean) => {
      while (writing) {
        if (!useStream) check((await remote.getBytes('v.bin'))!);
        else check(Buffer.concat(await (await remote.get('v.bin'))!.toArray() as Buffer[]));
      }
    };
    await Promise.all([writer, reader(false), reader(true)]);
    expect(reads).toBeGreaterThan(10);
    expect(await remote.getBytes('v.bin')).toEqual(version(50));
  });

  it('refuses a body shorter or longer than announced and leaves the target alone', async () => {
    await remote.put('f', Buffer.from('old'));
    const short = { size: 10, open: () => Readable.from([Buffer.from('abc')]) };
    const long = { size: 2, open: () => Readable.from([Buffer.from('abc')]) };
    await expect(remote.put('f', short)).rejects.toThrow(/announced/);
    await expect(remote.put('f', long)).rejects.toThrow(/announced/);
    expect(await remote.getBytes('f')).toEqual(Buffer.from('old'));
    expect(await fsp.readdir(root)).toEqual(['f']);
  });
});

describe('FolderRemote ETags, conditions and clock', () => {
  it('reports the same ETag on put and stat, and honours If-Match on put and delete', async () => {
    const { etag } = await remote.put('f', Buffer.from('one'));
    expect(etag).toMatch(/^"[0-9a-z]+-[0-9a-z]+-[0-9a-z]+"$/);
    expect((await remote.stat('f'))?.etag).toBe(etag);
    const next = await remote.put('f', Buffer.from('two'), { ifMatch: etag! });
    await expect(remote.put('f', Buffer.from('three'), { ifMatch: etag! })).rejects.toThrow(PreconditionFailedError);
    await expect(remote.delete('f', { ifMatch: etag! })).rejects.toThrow(PreconditionFailedError);
    expect(await remote.delete('f', { ifMatch: next.etag! })).toBe(true);
    await expect(remote.put('f', Buffer.from('x'), { ifMatch: next.etag! })).rejects.toThrow(PreconditionFailedError);
  });

  it('serverTime() stamps .docsync-clock in the root and hides it from list', async () => {
    const time = await remote.serverTime();
    const stats = await fsp.stat(path.join(root, '.docsync-clock'));
    expect(time).toBe(Math.floor(stats.mtimeMs));
    expect(await remote.list('')).toEqual([]);
  });

  it('serverTime() falls back to this clock when the folder cannot be written', async () => {
    const gone = new FolderRemote(path.join(root, 'missing'), seededIdSource(3));
    const before = Date.now();
    const time = await gone.serverTime();
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});

describe('FolderRemote errors: only ENOENT means absent', () => {
  beforeEach(async () => {
    await remote.mkdir('dir');
    await remote.put('file', Buffer.from('x'));
  });

  it.each([
    ['get of a folder', () => remote.get('dir')],
    ['getBytes of a folder', () => remote.getBytes('dir')],
    ['list of a file', () => remote.list('file')],
    ['stat below a file (ENOTDIR)', () => remote.stat('file/x')],
    ['put onto a folder', () => remote.put('dir', Buffer.from('x'))],
    ['put into a missing folder', () => remote.put('nope/x', Buffer.from('x'))],
    ['mkdir where a file is', () => remote.mkdir('file')],
    ['mkdir in a missing folder', () => remote.mkdir('nope/x')],
  ])('%s is a RemoteError', async (_, call) => {
    const error = await call().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).retryable).toBe(false);
  });

  it('translates I/O trouble to retryable errors and missing rights to RemoteAuthError', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
    for (const code of ['EIO', 'EAGAIN', 'EBUSY']) {
      expect(translateFsError(errno(code), 'read', 'a/b')).toBeInstanceOf(RemoteUnavailableError);
    }
    const denied = translateFsError(errno('EACCES'), 'write', 'a/b');
    expect(denied).toBeInstanceOf(RemoteAuthError);
    expect(denied.message).toMatch(/cannot write a\/b.*EACCES/);
    const other = translateFsError(errno('ENOTDIR'), 'read', 'a/b');
    expect(other).toBeInstanceOf(RemoteError);
    expect(other.retryable).toBe(false);
  });
});
