import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import { HashMismatchError, PayloadTooLargeError } from '../../src/errors.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { tempDir } from '../support/instance.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Every file under `dir`, as relative paths. */
function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** `data` cut into pieces of `size` bytes, each a buffer of its own (as a socket gives them). */
function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(Buffer.from(data.subarray(at, at + size)));
  return out;
}

describe('BlobStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  let tmpDir: string;
  let store: BlobStore;

  beforeEach(() => {
    tmp = tempDir();
    root = path.join(tmp.dir, 'blobs');
    tmpDir = path.join(tmp.dir, 'tmp');
    store = new BlobStore(root, tmpDir, seededIdSource(7));
  });
  afterEach(() => tmp.remove());

  it('stores content under ab/<sha256>.<ext> with the hash computed while streaming', async () => {
    const content = Buffer.from('hello blob store');
    const staged = await store.stage(Readable.from([content.subarray(0, 5), content.subarray(5)]));
    expect(staged.hash).toBe(sha256(content));
    expect(staged.size).toBe(content.length);
    await store.commit(staged, 'pdf');
    const expected = path.join(root, staged.hash.slice(0, 2), `${staged.hash}.pdf`);
    expect(store.pathOf(staged.hash, 'pdf')).toBe(expected);
    expect(fs.readFileSync(expected)).toEqual(content);
    expect(listFiles(tmpDir)).toEqual([]);
  });

  it('makes nothing visible in the store until commit', async () => {
    const staged = await store.stage(Readable.from([Buffer.from('pending')]));
    expect(store.has(staged.hash, 'txt')).toBe(false);
    expect(listFiles(root)).toEqual([]);
    expect(fs.existsSync(staged.tempPath)).toBe(true);
    await store.discard(staged);
    expect(fs.existsSync(staged.tempPath)).toBe(false);
  });

  it('leaves neither a blob nor a temp file when the source fails half way', async () => {
    async function* broken() {
      yield Buffer.from('first half of the content');
      throw new Error('connection reset');
    }
    await expect(store.stage(Readable.from(broken()))).rejects.toThrow('connection reset');
    expect(listFiles(root)).toEqual([]);
    expect(listFiles(tmpDir)).toEqual([]);
  });

  it('refuses content over the size limit and removes what it had received', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(1000, 1));
    await expect(store.stage(Readable.from(chunks), 5000)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(listFiles(tmpDir)).toEqual([]);
    const exact = await store.stage(Readable.from([Buffer.alloc(5000)]), 5000);
    expect(exact.size).toBe(5000);
  });

  it('accepts a download only when its content matches the expected hash', async () => {
    const good = Buffer.from('the real content');
    const staged = await store.stageVerified(Readable.from([good]), sha256(good));
    expect(staged.hash).toBe(sha256(good));
    await expect(store.stageVerified(Readable.from([Buffer.from('tampered')]), sha256(good))).rejects.toBeInstanceOf(
      HashMismatchError,
    );
    expect(listFiles(tmpDir)).toEqual([path.basename(staged.tempPath)]);
  });

  it('streams 80 MB in 64 KiB chunks, faster than the disk takes them: every byte lands in order, under the hash of the whole', async () => {
    // More than the sink holds (1 MiB) and than one background flush step (64 MiB): writes batch up
    // behind a slow disk write and a flush runs while the rest still arrives.
    const chunkCount = 1280;
    const whole = createHash('sha256');
    function* chunks() {
      for (let i = 0; i < chunkCount; i++) {
        const chunk = Buffer.alloc(64 * 1024, i % 251);
        chunk.writeUInt32BE(i, 0);
        whole.update(chunk);
        yield chunk;
      }
    }
    const staged = await store.stage(Readable.from(chunks()), chunkCount * 64 * 1024);
    expect(staged.size).toBe(chunkCount * 64 * 1024);
    expect(staged.hash).toBe(whole.digest('hex'));
    expect(sha256(fs.readFileSync(staged.tempPath))).toBe(staged.hash);
    await store.discard(staged);
  });

  it('hashes a large download (8 MiB or more) on the hashing thread: the right content is kept, a tampered or longer one is refused and removed', async () => {
    const content = Buffer.alloc(24 * 1024 * 1024);
    for (let at = 0; at < content.length; at += 4) content.writeUInt32BE(at, at);
    const staged = await store.stageVerified(Readable.from(pieces(content, 65_536)), sha256(content), content.length);
    expect(staged.size).toBe(content.length);
    expect(sha256(fs.readFileSync(staged.tempPath))).toBe(sha256(content));
    await store.discard(staged);
    const tampered = Buffer.from(content);
    tampered.writeUInt8(tampered.readUInt8(20_000_000) ^ 1, 20_000_000);
    await expect(store.stageVerified(Readable.from(pieces(tampered, 65_536)), sha256(content), content.length)).rejects.toBeInstanceOf(HashMismatchError);
    const longer = Buffer.concat([content, Buffer.from('more')]);
    await expect(store.stageVerified(Readable.from(pieces(longer, 65_536)), sha256(content), content.length)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(listFiles(tmpDir)).toEqual([]);
  });

  it('refuses a large stream one chunk over its cap, mid-way, and removes the temp file', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(64 * 1024, 3));
    await expect(store.stage(Readable.from(chunks), 39 * 64 * 1024)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(listFiles(tmpDir)).toEqual([]);
  });

  it('detects a blob whose content no longer matches its address', async () => {
    const staged = await store.stage(Readable.from([Buffer.from('original')]));
    await store.commit(staged, 'txt');
    expect(await store.verify(staged.hash, 'txt')).toBe(true);
    fs.writeFileSync(store.pathOf(staged.hash, 'txt'), 'bit rot');
    expect(await store.verify(staged.hash, 'txt')).toBe(false);
    expect(await store.verify(sha256('never stored'), 'txt')).toBe(false);
  });

  it('builds paths only from a sha256 and a plain extension', () => {
    const hash = sha256('x');
    expect(() => store.pathOf('../../etc/passwd', 'txt')).toThrow(/sha256/);
    expect(() => store.pathOf(hash, '../x')).toThrow(/extension/);
    expect(() => store.pathOf(hash.toUpperCase(), 'txt')).toThrow(/sha256/);
    expect(store.pathOf(hash, 'tei.xml').startsWith(root)).toBe(true);
  });

  it('reads byte ranges with an inclusive end', async () => {
    const staged = await store.stage(Readable.from([Buffer.from('0123456789')]));
    await store.commit(staged, 'txt');
    const chunks: Buffer[] = [];
    for await (const chunk of store.createReadStream(staged.hash, 'txt', { start: 2, end: 5 })) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('2345');
  });

  it('removes a blob only when nothing references it', async () => {
    const staged = await store.stage(Readable.from([Buffer.from('shared')]));
    await store.commit(staged, 'txt');
    expect(store.removeIfUnreferenced(staged.hash, 'txt', () => true)).toBe(false);
    expect(store.has(staged.hash, 'txt')).toBe(true);
    expect(store.removeIfUnreferenced(staged.hash, 'txt', () => false)).toBe(true);
    expect(store.has(staged.hash, 'txt')).toBe(false);
    expect(store.removeIfUnreferenced(staged.hash, 'txt', () => false)).toBe(false);
  });

  it('sweeps unreferenced blobs and stale temp files, but spares young ones', async () => {
    const keep = await store.stage(Readable.from([Buffer.from('keep me')]));
    const drop = await store.stage(Readable.from([Buffer.from('drop me')]));
    const young = await store.stage(Readable.from([Buffer.from('just uploaded')]));
    await store.commit(keep, 'txt');
    await store.commit(drop, 'txt');
    await store.commit(young, 'txt');
    const leftover = await store.stage(Readable.from([Buffer.from('crashed upload')]));
    const hourAgo = new Date(Date.now() - 2 * 3600 * 1000);
    for (const file of [store.pathOf(keep.hash, 'txt'), store.pathOf(drop.hash, 'txt'), leftover.tempPath]) {
      fs.utimesSync(file, hourAgo, hourAgo);
    }
    const dry = await store.collectGarbage((hash) => hash === keep.hash, Date.now(), { dryRun: true });
    expect(dry).toEqual({ removed: 1, bytesFreed: 7, kept: 2, tempRemoved: 1 });
    expect(store.has(drop.hash, 'txt')).toBe(true);
    expect(fs.existsSync(leftover.tempPath)).toBe(true);
    const report = await store.collectGarbage((hash) => hash === keep.hash, Date.now());
    expect(report).toEqual(dry);
    expect(store.has(keep.hash, 'txt')).toBe(true);
    expect(store.has(drop.hash, 'txt')).toBe(false);
    expect(store.has(young.hash, 'txt')).toBe(true);
    expect(fs.existsSync(leftover.tempPath)).toBe(false);
  });
});
