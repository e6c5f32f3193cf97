import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';

/**
 * A minimal uncompressed tar (POSIX ustar) for backups: regular files only, names up to 100 bytes,
 * sizes past 8 GiB in GNU base-256. Enough for `docsync backup` to write one file that `tar tf`
 * lists and `tar xf` unpacks, and for `restore-backup` to read it back entry by entry.
 */
const BLOCK = 512;
const NAME_BYTES = 100;

export interface TarEntry {
  name: string;
  size: number;
  /** Where the content starts in the archive. */
  offset: number;
}

/** Writes entries one after the other through positional writes on an open file. */
export class TarWriter {
  private position = 0;

  private constructor(private readonly handle: fsp.FileHandle) {}

  static async create(file: string): Promise<TarWriter> {
    return new TarWriter(await fsp.open(file, 'wx'));
  }

  async addBuffer(name: string, content: Buffer, mtimeMs = Date.now()): Promise<void> {
    await this.write(header(name, content.length, mtimeMs));
    await this.write(content);
    await this.pad(content.length);
  }

  /** Copies the file at `source`; its size is taken once, so a file that grows meanwhile is cut there. */
  async addFile(name: string, source: string): Promise<number> {
    const input = await fsp.open(source, 'r');
    try {
      const stat = await input.stat();
      await this.write(header(name, stat.size, stat.mtimeMs));
      const buffer = Buffer.alloc(1024 * 1024);
      let copied = 0;
      while (copied < stat.size) {
        const { bytesRead } = await input.read(buffer, 0, Math.min(buffer.length, stat.size - copied), copied);
        if (bytesRead === 0) throw new Error(`${source} became shorter while it was being copied`);
        await this.write(buffer.subarray(0, bytesRead));
        copied += bytesRead;
      }
      await this.pad(stat.size);
      return stat.size;
    } finally {
      await input.close();
    }
  }

  /** Two zero blocks end the archive; the file is made durable before it is closed. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
    await this.handle.sync();
    await this.handle.close();
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  private async write(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length; ) {
      const { bytesWritten } = await this.handle.write(data, at, data.length - at, this.position);
      if (bytesWritten === 0) throw Object.assign(new Error('the disk took no more bytes'), { code: 'ENOSPC' });
      at += bytesWritten;
      this.position += bytesWritten;
    }
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(Buffer.alloc(BLOCK - rest));
  }
}

function header(name: string, size: number, mtimeMs: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > NAME_BYTES) throw new Error(`tar entry name longer than ${NAME_BYTES} bytes: ${name}`);
  block.write(name, 0, 'utf8');
  block.write('0000644\0', 100, 'ascii'); // mode
  block.write('0000000\0', 108, 'ascii'); // uid
  block.write('0000000\0', 116, 'ascii'); // gid
  writeSize(block, size);
  block.write(`${Math.floor(mtimeMs / 1000).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum, counted as spaces
  block.write('0', 156, 'ascii'); // regular file
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** 11 octal digits hold up to 8 GiB − 1; larger sizes use GNU base-256 (high bit set, big-endian). */
function writeSize(block: Buffer, size: number): void {
  if (size < 8 ** 11) {
    block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    return;
  }
  block[124] = 0x80;
  let rest = BigInt(size);
  for (let i = 135; i > 124; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

function readSize(block: Buffer): number {
  if ((block[124]! & 0x80) !== 0) {
    let value = 0n;
    for (let i = 125; i < 136; i++) value = (value << 8n) | BigInt(block[i]!);
    return Number(value);
  }
  return parseOctal(block, 124, 12);
}

function parseOctal(block: Buffer, start: number, length: number): number {
  const text = block.subarray(start, start + length).toString('ascii').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new TarFormatError(`a tar header field is not octal: '${text}'`);
  return text === '' ? 0 : parseInt(text, 8);
}

export class TarFormatError extends Error {}

/**
 * Lists the regular-file entries of the tar at `file`, in order, with where each one's content
 * lies (read it with `openEntry`). Checks every header's checksum; anything else (links, folders)
 * is reported, so a hand-made archive cannot plant a path.
 */
export async function listTar(file: string): Promise<TarEntry[]> {
  const handle = await fsp.open(file, 'r');
  try {
    const { size: total } = await handle.stat();
    const entries: TarEntry[] = [];
    const block = Buffer.alloc(BLOCK);
    for (let at = 0; ; ) {
      if (at + BLOCK > total) throw new TarFormatError('the archive ends in the middle of an entry (truncated?)');
      await handle.read(block, 0, BLOCK, at);
      if (block.every((b) => b === 0)) return entries;
      const stored = /^[0-7]{1,7}$/.test(block.subarray(148, 156).toString('ascii').replace(/[\0 ]+$/, '').trim())
        ? parseOctal(block, 148, 8)
        : Number.NaN;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      if (sum !== stored) throw new TarFormatError(`bad header checksum at byte ${at}: not a tar archive, or a damaged one`);
      const type = String.fromCharCode(block[156]!);
      const name = block.subarray(0, NAME_BYTES).toString('utf8').replace(/\0.*$/s, '');
      const size = readSize(block);
      if (type !== '0' && type !== '\0') throw new TarFormatError(`unexpected entry '${name}' (type '${type}'): a backup holds files only`);
      if (at + BLOCK + size > total) throw new TarFormatError(`the archive ends inside '${name}' (truncated?)`);
      entries.push({ name, size, offset: at + BLOCK });
      at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await handle.close();
  }
}

/** The content of one entry, streamed from the archive. */
export function openEntry(file: string, entry: TarEntry): Readable {
  if (entry.size === 0) return Readable.from([]);
  return fs.createReadStream(file, { start: entry.offset, end: entry.offset + entry.size - 1 });
}
