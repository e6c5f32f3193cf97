/**
 * The one test suite every `Remote` must pass (memory, folder, each real WebDAV server). What a
 * server does differently is recorded in a `ServerBehaviour` and then checked, never assumed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import { PreconditionFailedError } from '../../src/remote/errors.ts';
import type { PutBody, Remote } from '../../src/remote/remote.ts';

/** What one server does, recorded deliberately (see docs/webdav-servers.md; re-measured on loopback). */
export interface ServerBehaviour {
  /** Answers 412 to `If-None-Match: *` on an existing file and to a stale `If-Match`. */
  conditionalPut: boolean;
  /** MKCOL of an existing folder fails (`'exists'`); when false the server claims to create it again. */
  exclusiveMkcol: boolean;
  /** The PUT response carries the new ETag. */
  etagOnPut: boolean;
  /** `stat()` reports an ETag (nginx's PROPFIND carries none, although its GET does). */
  etagOnStat: boolean;
  /** A same-size rewrite within the same second gets a new ETag (of `version.txt`, see below). */
  etagChangesOnSameSecondRewrite: boolean;
}

export interface ConformanceTarget {
  remote: Remote;
  expect: ServerBehaviour;
  cleanup(): Promise<void>;
}

/**
 * Recorded behaviours. Apache's are those of the test config in `test/support/webdav-servers.ts`:
 * `FileETag Digest` for `version.txt` and `metadata/*.db` — its default mtime ETag is weak for 1 s
 * and collided in 4 of 50 same-size rewrites a few ms apart — hence the conditional and same-second
 * tests below write a file named `version.txt`.
 */
export const RECORDED_BEHAVIOUR = {
  /** MemoryRemote and FolderRemote. */
  ideal: { conditionalPut: true, exclusiveMkcol: true, etagOnPut: true, etagOnStat: true, etagChangesOnSameSecondRewrite: true },
  apache: { conditionalPut: true, exclusiveMkcol: true, etagOnPut: false, etagOnStat: true, etagChangesOnSameSecondRewrite: true },
  nginx: { conditionalPut: false, exclusiveMkcol: true, etagOnPut: false, etagOnStat: false, etagChangesOnSameSecondRewrite: false },
  rclone: { conditionalPut: false, exclusiveMkcol: false, etagOnPut: true, etagOnStat: true, etagChangesOnSameSecondRewrite: true },
  lighttpd: { conditionalPut: true, exclusiveMkcol: true, etagOnPut: true, etagOnStat: true, etagChangesOnSameSecondRewrite: true },
  /** One client sees MKCOL of an existing folder refused; two racers can both be told 'created' (see the lock suite). */
  sabre: { conditionalPut: true, exclusiveMkcol: true, etagOnPut: true, etagOnStat: true, etagChangesOnSameSecondRewrite: true },
} satisfies Record<string, ServerBehaviour>;

const MB = 1024 * 1024;
const BIG_FILE_BYTES = 100 * MB;
const QUOTED_ETAG = /^(W\/)?"[^"]*"$/;

/** Registers the conformance suite for one remote. `setup` runs once; every test works in its own folder. */
export function runRemoteConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`Remote conformance: ${name}`, () => {
    let target: ConformanceTarget | undefined;
    let remote: Remote;
    let behaves: ServerBehaviour;
    const runId = `conformance-${randomBytes(4).toString('hex')}`;
    let folders = 0;

    /** A new, empty folder just for the calling test. */
    async function fresh(label: string): Promise<string> {
      const dir = `${runId}-${++folders}-${label}`;
      expect(await remote.mkdir(dir)).toBe('created');
      return dir;
    }

    /** The ETag a client can learn for a file: from stat, else from the PUT answer. */
    async function currentEtag(path: string, putEtag?: string): Promise<string | undefined> {
      return (await remote.stat(path))?.etag ?? putEtag;
    }

    beforeAll(async () => {
      target = await setup();
      ({ remote, expect: behaves } = target);
    });
    afterAll(async () => {
      await target?.cleanup();
    });

    it('round-trips a Buffer through getBytes, get and stat', async () => {
      const dir = await fresh('buffer');
      const data = Buffer.from('hello, remote\n');
      await remote.put(`${dir}/a.txt`, data);
      expect(await remote.getBytes(`${dir}/a.txt`)).toEqual(data);
      expect(await readAll((await remote.get(`${dir}/a.txt`))!)).toEqual(data);
      expect(await remote.stat(`${dir}/a.txt`)).toMatchObject({ size: data.length, isDirectory: false });
    });

    it('round-trips a stream body of announced size', async () => {
      const dir = await fresh('stream');
      const data = patterned(300_000);
      await remote.put(`${dir}/s.bin`, streamBody(data));
      expect((await remote.getBytes(`${dir}/s.bin`))!.equals(data)).toBe(true);
    });

    it('stores an empty file', async () => {
      const dir = await fresh('empty');
      await remote.put(`${dir}/empty`, Buffer.alloc(0));
      expect(await remote.getBytes(`${dir}/empty`)).toEqual(Buffer.alloc(0));
      expect(await readAll((await remote.get(`${dir}/empty`))!)).toEqual(Buffer.alloc(0));
      expect(await remote.stat(`${dir}/empty`)).toMatchObject({ size: 0, isDirectory: false });
    });

    it('keeps binary content with every byte value intact', async () => {
      const dir = await fresh('binary');
      const data = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => (i * 7) % 256));
      await remote.put(`${dir}/all-bytes.bin`, data);
      expect((await remote.getBytes(`${dir}/all-bytes.bin`))!.equals(data)).toBe(true);
      expect((await readAll((await remote.get(`${dir}/all-bytes.bin`))!)).equals(data)).toBe(true);
    });

    it('handles a unicode file name', async () => {
      const dir = await fresh('unicode');
      const name = 'Grüße – 文件 ☃ 🙂.txt';
      await remote.put(`${dir}/${name}`, Buffer.from('ü'));
      expect(await remote.getBytes(`${dir}/${name}`)).toEqual(Buffer.from('ü'));
      expect((await remote.list(dir))!.map((e) => e.name)).toEqual([name]);
    });

    it('round-trips a 100 MB stream (SHA-256 compared, never held twice)', async () => {
      const dir = await fresh('big');
      const body = generatedBody(BIG_FILE_BYTES, 42);
      const expected = await digest(body.open());
      const started = performance.now();
      await remote.put(`${dir}/big.bin`, body);
      const putMs = performance.now() - started;
      expect((await remote.stat(`${dir}/big.bin`))?.size).toBe(BIG_FILE_BYTES);
      const readStarted = performance.now();
      const actual = await digest((await remote.get(`${dir}/big.bin`))!);
      const getMs = performance.now() - readStarted;
      expect(actual).toEqual(expected);
      console.info(`[conformance] ${name}: 100 MB put ${putMs.toFixed(0)} ms, get ${getMs.toFixed(0)} ms`);
    }, 300_000);

    it('reports missing files as absent: undefined and false, never an error', async () => {
      const dir = await fresh('missing');
      for (const path of [`${dir}/nothing.txt`, `${dir}/no-folder/nothing.txt`]) {
        expect(await remote.stat(path)).toBeUndefined();
        expect(await remote.get(path)).toBeUndefined();
        expect(await remote.getBytes(path)).toBeUndefined();
        expect(await remote.delete(path)).toBe(false);
      }
    });

    it('lists a folder with names, sizes and kinds; a missing folder is undefined', async () => {
      const dir = await fresh('list');
      expect(await remote.list(dir)).toEqual([]);
      await remote.put(`${dir}/one.txt`, Buffer.from('1'));
      await remote.put(`${dir}/three.txt`, Buffer.from('333'));
      await remote.mkdir(`${dir}/sub`);
      const entries = (await remote.list(dir))!.sort((a, b) => a.name.localeCompare(b.name));
      expect(entries.map(({ name, isDirectory }) => ({ name, isDirectory }))).toEqual([
        { name: 'one.txt', isDirectory: false }, { name: 'sub', isDirectory: true }, { name: 'three.txt', isDirectory: false }]);
      expect(entries.filter((e) => !e.isDirectory).map((e) => e.size)).toEqual([1, 3]);
      expect(await remote.list(`${dir}/absent`)).toBeUndefined();
    });

    it('mkdir creates a folder once; a second mkdir answers as recorded', async () => {
      const dir = await fresh('mkdir');
      expect(await remote.mkdir(`${dir}/new`)).toBe('created');
      expect(await remote.stat(`${dir}/new`)).toMatchObject({ isDirectory: true });
      // rclone answers 201 to MKCOL of an existing folder: it cannot be told apart from a creation.
      expect(await remote.mkdir(`${dir}/new`)).toBe(behaves.exclusiveMkcol ? 'exists' : 'created');
    });

    it('writes nested paths once each parent folder exists', async () => {
      const dir = await fresh('nested');
      await remote.mkdir(`${dir}/a`);
      await remote.mkdir(`${dir}/a/b`);
      await remote.mkdir(`${dir}/a/b/c`);
      await remote.put(`${dir}/a/b/c/deep.txt`, Buffer.from('deep'));
      expect(await remote.getBytes(`${dir}/a/b/c/deep.txt`)).toEqual(Buffer.from('deep'));
      expect((await remote.list(`${dir}/a/b`))!.map((e) => [e.name, e.isDirectory])).toEqual([['c', true]]);
    });

    it('an overwrite replaces the whole content', async () => {
      const dir = await fresh('overwrite');
      await remote.put(`${dir}/f.txt`, Buffer.from('a much longer first version'));
      await remote.put(`${dir}/f.txt`, Buffer.from('short'));
      expect(await remote.getBytes(`${dir}/f.txt`)).toEqual(Buffer.from('short'));
      expect((await remote.stat(`${dir}/f.txt`))?.size).toBe(5);
    });

    it('reports ETags as recorded, and they change with the content', async () => {
      const dir = await fresh('etag');
      const first = await remote.put(`${dir}/e.txt`, Buffer.from('one'));
      const firstStat = (await remote.stat(`${dir}/e.txt`))!;
      expect(first.etag === undefined).toBe(!behaves.etagOnPut);
      expect(firstStat.etag === undefined).toBe(!behaves.etagOnStat);
      if (first.etag !== undefined) expect(first.etag).toMatch(QUOTED_ETAG);
      if (firstStat.etag !== undefined) expect(firstStat.etag).toMatch(QUOTED_ETAG);
      if (behaves.etagOnPut && behaves.etagOnStat) expect(first.etag).toBe(firstStat.etag);
      const second = await remote.put(`${dir}/e.txt`, Buffer.from('two, longer'));
      const secondStat = (await remote.stat(`${dir}/e.txt`))!;
      if (behaves.etagOnPut) expect(second.etag).not.toBe(first.etag);
      if (behaves.etagOnStat) expect(secondStat.etag).not.toBe(firstStat.etag);
    });

    it('a same-size rewrite within a second changes the ETag as recorded', async () => {
      const dir = await fresh('same-second');
      const file = `${dir}/version.txt`;
      const etags: (string | undefined)[] = [];
      for (let i = 0; i < 5; i++) etags.push(await currentEtag(file, (await remote.put(file, Buffer.from(`v${i}`))).etag));
      if (!behaves.etagOnPut && !behaves.etagOnStat) return void expect(etags.every((e) => e === undefined)).toBe(true);
      const repeats = etags.slice(1).filter((etag, i) => etag === etags[i]).length;
      // Five quick writes: at least one pair falls into the same second on mtime-based servers.
      if (behaves.etagChangesOnSameSecondRewrite) expect(repeats).toBe(0);
      else expect(repeats).toBeGreaterThan(0);
    });

    it('If-None-Match: * creates a missing file', async () => {
      const dir = await fresh('create');
      const result = await remote.put(`${dir}/version.txt`, Buffer.from('new'), { ifNoneMatch: '*' });
      expect(result.etag === undefined).toBe(!behaves.etagOnPut);
      expect(await remote.getBytes(`${dir}/version.txt`)).toEqual(Buffer.from('new'));
    });

    it('If-None-Match: * on an existing file fails with 412 where recorded, else overwrites', async () => {
      const dir = await fresh('if-none-match');
      const file = `${dir}/version.txt`;
      await remote.put(file, Buffer.from('first'));
      const attempt = remote.put(file, Buffer.from('second'), { ifNoneMatch: '*' });
      if (behaves.conditionalPut) await expect(attempt).rejects.toBeInstanceOf(PreconditionFailedError);
      else await attempt;
      expect(await remote.getBytes(file)).toEqual(Buffer.from(behaves.conditionalPut ? 'first' : 'second'));
    });

    it('a stale If-Match fails with 412 where recorded, else overwrites', async () => {
      const dir = await fresh('stale-if-match');
      const file = `${dir}/version.txt`;
      const stale = await currentEtag(file, (await remote.put(file, Buffer.from('v1'))).etag);
      await remote.put(file, Buffer.from('version 2'));
      if (behaves.conditionalPut) expect(stale).toBeDefined();
      const attempt = remote.put(file, Buffer.from('v3'), { ifMatch: stale ?? '"stale"' });
      if (behaves.conditionalPut) await expect(attempt).rejects.toBeInstanceOf(PreconditionFailedError);
      else await attempt;
      expect(await remote.getBytes(file)).toEqual(Buffer.from(behaves.conditionalPut ? 'version 2' : 'v3'));
    });

    it('a matching If-Match succeeds', async () => {
      const dir = await fresh('if-match');
      const file = `${dir}/version.txt`;
      const etag = await currentEtag(file, (await remote.put(file, Buffer.from('v1'))).etag);
      if (behaves.conditionalPut) expect(etag).toBeDefined();
      await remote.put(file, Buffer.from('v2'), { ifMatch: etag ?? '"none-reported"' });
      expect(await remote.getBytes(file)).toEqual(Buffer.from('v2'));
    });

    it('deletes a file', async () => {
      const dir = await fresh('delete-file');
      await remote.put(`${dir}/gone.txt`, Buffer.from('x'));
      expect(await remote.delete(`${dir}/gone.txt`)).toBe(true);
      expect(await remote.stat(`${dir}/gone.txt`)).toBeUndefined();
      expect(await remote.delete(`${dir}/gone.txt`)).toBe(false);
    });

    it('deletes a folder with everything in it', async () => {
      const dir = await fresh('delete-folder');
      await remote.mkdir(`${dir}/tree`);
      await remote.mkdir(`${dir}/tree/sub`);
      await remote.put(`${dir}/tree/a.txt`, Buffer.from('a'));
      await remote.put(`${dir}/tree/sub/b.txt`, Buffer.from('b'));
      expect(await remote.delete(`${dir}/tree`)).toBe(true);
      expect(await remote.stat(`${dir}/tree`)).toBeUndefined();
      expect(await remote.getBytes(`${dir}/tree/sub/b.txt`)).toBeUndefined();
      expect(await remote.list(dir)).toEqual([]);
      expect(await remote.delete(`${dir}/tree`)).toBe(false);
    });

    it('serverTime() is within 5 s of this machine on loopback', async () => {
      const time = await remote.serverTime();
      expect(Math.abs(time - Date.now())).toBeLessThan(5_000);
    });
  });
}

/** A body that re-opens as a stream of 7 KB chunks (odd-sized on purpose). */
function streamBody(data: Buffer): PutBody {
  const chunks = Array.from({ length: Math.ceil(data.length / 7000) }, (_, i) => data.subarray(i * 7000, (i + 1) * 7000));
  return { size: data.length, open: () => Readable.from(chunks) };
}

function patterned(size: number): Buffer {
  return seededIdSource(size).bytes(size);
}

/**
 * `size` bytes generated on the fly: a 1 MB pseudo-random block, stamped with its index in each
 * repetition so the content is not periodic. Only one block is ever held.
 */
function generatedBody(size: number, seed: number): { size: number; open(): Readable } {
  const block = seededIdSource(seed).bytes(MB);
  return {
    size,
    open: () => {
      let offset = 0;
      return new Readable({
        read() {
          if (offset >= size) return void this.push(null);
          const chunk = Buffer.from(block.subarray(0, Math.min(MB, size - offset)));
          if (chunk.length >= 8) chunk.writeDoubleBE(offset, 0);
          offset += chunk.length;
          this.push(chunk);
        },
      });
    },
  };
}

async function digest(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
