import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OffThreadHash } from '../../src/store/off-thread-hash.ts';

const sha256 = (...parts: Buffer[]) => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest('hex');

/** `data` cut into pieces of `size` bytes (the last one shorter). */
function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

async function offThread(parts: Buffer[]): Promise<string> {
  const hash = new OffThreadHash();
  try {
    for (const part of parts) await hash.update(part);
    return await hash.digest();
  } finally {
    hash.dispose();
  }
}

describe('SHA-256 on the hashing thread', () => {
  it('gives the digest of the bytes in order, whatever their cut: empty, tiny, pieces that wrap the 8 MiB ring, one piece larger than the ring', async () => {
    expect(await offThread([])).toBe(sha256());
    expect(await offThread([Buffer.from('a')])).toBe(sha256(Buffer.from('a')));
    const data = randomBytes(20 * 1024 * 1024 + 17);
    // 100,003 bytes: no piece boundary meets the ring's end, so pieces are split across it.
    expect(await offThread(pieces(data, 100_003))).toBe(sha256(data));
    expect(await offThread([data])).toBe(sha256(data));
  });

  it('keeps jobs apart: several hashes interleaved on the one thread each get their own digest', async () => {
    const inputs = [randomBytes(3_000_000), randomBytes(9_000_000), randomBytes(1234)];
    const jobs = inputs.map(() => new OffThreadHash());
    const cuts = inputs.map((input) => pieces(input, 65_536));
    for (let step = 0; step < Math.max(...cuts.map((c) => c.length)); step++) {
      await Promise.all(jobs.map((job, i) => (cuts[i]![step] ? job.update(cuts[i]![step]!) : undefined)));
    }
    expect(await Promise.all(jobs.map((job) => job.digest()))).toEqual(inputs.map((input) => sha256(input)));
  });

  it('copies the bytes: the caller may reuse its buffer at once', async () => {
    const buffer = Buffer.alloc(1024 * 1024, 1);
    const hash = new OffThreadHash();
    await hash.update(buffer);
    buffer.fill(2);
    await hash.update(buffer);
    expect(await hash.digest()).toBe(sha256(Buffer.alloc(1024 * 1024, 1), Buffer.alloc(1024 * 1024, 2)));
  });

  it('a job given up releases an update waiting for room, and the next job works', async () => {
    const hash = new OffThreadHash();
    // Far more than the ring holds: this update waits for the thread while we give the job up.
    const waiting = hash.update(randomBytes(64 * 1024 * 1024));
    hash.dispose();
    await expect(waiting).rejects.toThrow(/given up/);
    const data = randomBytes(100_000);
    expect(await offThread([data])).toBe(sha256(data));
  });

  it('does not keep a process alive once its hashes are done (a CLI sync ends by itself)', () => {
    const module = path.resolve('src/store/off-thread-hash.ts');
    const script = `
      import { OffThreadHash } from ${JSON.stringify(module)};
      const hash = new OffThreadHash();
      await hash.update(Buffer.alloc(16 * 1024 * 1024, 7));
      console.log(await hash.digest());
      hash.dispose();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.trim()).toBe(sha256(Buffer.alloc(16 * 1024 * 1024, 7)));
  });
});
