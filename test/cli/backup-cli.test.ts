import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { createBackup } from '../../src/services/backup.ts';
import { listTar } from '../../src/store/tar.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const PASSWORD = 'a long enough password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The real CLI in a child process, as a user runs it. */
function docsyncProcess(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent', PORT: '0', DOCSYNC_ADMIN_PASSWORD: PASSWORD, ...env },
  });
}

async function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

/** Starts `serve` on a free port; resolves once it listens, with a logged-in client. */
async function startServer(dataDir: string): Promise<{ child: ChildProcess; api: Api; stop: () => Promise<void> }> {
  const child = docsyncProcess(['serve', '--init', '--data-dir', dataDir, '--sync-interval', '0']);
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const match = /docsync listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const { sessionId } = (await login.json()) as { sessionId: string };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { child, api: new Api(url, sessionId), stop };
}

interface FileJson {
  stable_id: string;
  hash: string;
  filename: string;
}

class Api {
  constructor(
    private readonly url: string,
    private readonly session: string,
  ) {}

  async upload(name: string, content: Buffer): Promise<FileJson> {
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(content)]), name);
    return this.json('POST', '/files', form, 201);
  }

  async replace(id: string, content: Buffer): Promise<FileJson> {
    return this.json('PUT', `/files/${id}/content`, new Uint8Array(content), 200, { 'content-type': 'application/octet-stream' });
  }

  async list(): Promise<FileJson[]> {
    return (await this.json<{ files: FileJson[] }>('GET', '/files?limit=1000', undefined, 200)).files;
  }

  async content(id: string): Promise<Buffer> {
    const res = await fetch(`${this.url}/api/v1/files/${id}/content`, { headers: { 'x-session-id': this.session } });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  private async json<T>(method: string, route: string, body: BodyInit | undefined, expected: number, headers: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${this.url}/api/v1${route}`, { method, body, headers: { 'x-session-id': this.session, ...headers } });
    const text = await res.text();
    if (res.status !== expected) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

describe('docsync backup / restore-backup', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it('a backup taken while the server serves and writes restores into a new data dir where every file reads back by its hash', async () => {
    const dataDir = path.join(tmp.dir, 'data');
    const server = await startServer(dataDir);
    let writer: Promise<void> | undefined;
    try {
      // Enough content that copying it takes a while (~24 MB), so writes land during the backup.
      const before: FileJson[] = [];
      for (let i = 0; i < 48; i++) before.push(await server.api.upload(`before-${i}.bin`, randomContent(512 * 1024, i)));

      // Keeps writing until told to stop: new files, and new content for old ones (their old blobs go away).
      const writes: number[] = [];
      let writing = true;
      writer = (async () => {
        for (let i = 0; writing; i++) {
          if (i % 2 === 0) await server.api.upload(`during-${i}.txt`, randomContent(4096, 1000 + i));
          else await server.api.replace(before[i % before.length]!.stable_id, randomContent(512 * 1024, 2000 + i));
          writes.push(Date.now());
        }
      })();

      const backupFile = path.join(tmp.dir, 'nightly.tar');
      const backup = await finished(docsyncProcess(['backup', backupFile, '--data-dir', dataDir, '--json']));
      const backupEnded = Date.now();
      expect(backup.code, backup.stderr).toBe(0);
      const report = JSON.parse(backup.stdout) as { files: number; blobs: number; rounds: number; missing: string[] };
      expect(report.missing).toEqual([]);
      writing = false;
      await writer;

      // The server kept writing while the backup ran (from when its manifest was written to its end).
      const entries = await listTar(backupFile);
      expect(entries[0]!.name).toBe('docsync-backup.json');
      expect(entries[entries.length - 1]!.name).toBe('docsync.db');
      const manifest = JSON.parse(fs.readFileSync(backupFile).subarray(entries[0]!.offset, entries[0]!.offset + entries[0]!.size).toString()) as { created_at: string };
      const during = writes.filter((t) => t >= Date.parse(manifest.created_at) && t <= backupEnded).length;
      expect(during, 'writes while the backup ran').toBeGreaterThan(0);
      expect(report.files).toBeGreaterThanOrEqual(before.length);
      await server.stop();

      const restoredDir = path.join(tmp.dir, 'restored');
      const restore = await finished(docsyncProcess(['restore-backup', backupFile, '--data-dir', restoredDir]));
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.stdout).toContain(`restored ${report.files} file(s)`);

      const second = await startServer(restoredDir);
      try {
        const files = await second.api.list();
        expect(files).toHaveLength(report.files);
        // Every file uploaded before the backup began is there (its content may be a later one).
        expect(files.map((f) => f.stable_id)).toEqual(expect.arrayContaining(before.map((f) => f.stable_id)));
        for (const file of files) expect(sha256(await second.api.content(file.stable_id)), file.filename).toBe(file.hash);
      } finally {
        await second.stop();
      }
    } finally {
      await server.stop();
      await writer?.catch(() => undefined);
    }
  }, 120_000);

  const env = (dataDir: string) => ({ DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir), DOCSYNC_REMOTE: 'none' });
  const cli = (args: string[], dataDir = 'data') => runCliCaptured(args, { env: env(dataDir), cwd: tmp.dir });
  const seed = async (files: Record<string, string>) => {
    const docsync = openDocsync(loadConfig(env('data'), {}, tmp.dir));
    try {
      for (const [name, content] of Object.entries(files)) await docsync.files.create(Readable.from([Buffer.from(content)]), { filename: name });
    } finally {
      docsync.close();
    }
  };

  it('restore refuses a non-empty data dir (exit 2) unless --force, which moves the old database aside', async () => {
    await seed({ 'a.txt': 'alpha' });
    expect((await cli(['backup', 'b.tar'])).code).toBe(0);
    fs.mkdirSync(path.join(tmp.dir, 'other'));
    fs.writeFileSync(path.join(tmp.dir, 'other', 'keep.txt'), 'not ours');
    const refused = await cli(['restore-backup', 'b.tar'], 'other');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/The data dir .*other is not empty: restore into a new folder, or pass --force/);
    // The data dir being restored over: its database is kept aside, its blobs merged.
    await seed({ 'b.txt': 'beta' });
    const forced = await cli(['restore-backup', 'b.tar', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/^moved aside: .*docsync\.db\.before-restore-/m);
    expect((await cli(['files', 'ls'])).stdout).toMatch(/"a\.txt"/);
    expect((await cli(['files', 'ls'])).stdout).not.toMatch(/"b\.txt"/);
    expect(fs.readdirSync(path.join(tmp.dir, 'data')).filter((n) => n.startsWith('.restore-'))).toEqual([]);
  });

  it('restore checks every blob against its hash: a damaged one that a file needs refuses the whole restore', async () => {
    await seed({ 'a.txt': 'alpha content', 'b.txt': 'beta content' });
    expect((await cli(['backup', 'b.tar'])).code).toBe(0);
    const file = path.join(tmp.dir, 'b.tar');
    const blob = (await listTar(file)).find((e) => e.name.startsWith('blobs/'))!;
    const bytes = fs.readFileSync(file);
    bytes[blob.offset] = bytes[blob.offset]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const run = await cli(['restore-backup', 'b.tar'], 'restored');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`lacks 1 blob(s) that live files need, or they are damaged; nothing was restored:\n  ${blob.name}`);
    expect(fs.existsSync(path.join(tmp.dir, 'restored', 'docsync.db'))).toBe(false);
    expect(fs.readdirSync(path.join(tmp.dir, 'restored'))).toEqual([]);

    fs.writeFileSync(path.join(tmp.dir, 'junk.tar'), 'not a tar at all'.repeat(64));
    expect(await cli(['restore-backup', 'junk.tar'], 'restored2')).toMatchObject({ code: 1, stderr: expect.stringMatching(/bad header checksum at byte 0: not a tar archive/) });
    fs.writeFileSync(path.join(tmp.dir, 'cut.tar'), bytes.subarray(0, bytes.length - 4096));
    expect((await cli(['restore-backup', 'cut.tar'], 'restored3')).stderr).toMatch(/truncated|holds no docsync\.db/);
  });

  it('a blob removed between the database copy and the blob copy: the database is copied again (deterministic)', async () => {
    await seed({ 'a.txt': 'first content', 'b.txt': 'kept' });
    const docsync = openDocsync(loadConfig(env('data'), {}, tmp.dir));
    let report;
    try {
      const a = docsync.files.list({ limit: 10, q: 'a.txt' }).files[0]!;
      report = await createBackup(
        {
          db: docsync.db,
          dataDir: docsync.config.dataDir,
          clock: docsync.clock,
          instanceId: docsync.instanceId,
          // What a server does meanwhile: new content for a.txt, and its old blob goes.
          afterSnapshot: async (round) => {
            if (round === 1) await docsync.files.replaceContent(a.stable_id, Readable.from([Buffer.from('second content')]));
          },
        },
        path.join(tmp.dir, 'b.tar'),
      );
    } finally {
      docsync.close();
    }
    expect(report).toMatchObject({ rounds: 2, missing: [], files: 2 });
    expect((await cli(['restore-backup', 'b.tar'], 'restored')).code).toBe(0);
    const restored = openDocsync(loadConfig(env('restored'), {}, tmp.dir), { create: false });
    try {
      const a = restored.files.list({ limit: 10, q: 'a.txt' }).files[0]!;
      const chunks: Buffer[] = [];
      for await (const chunk of restored.files.openContent(a)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('second content');
    } finally {
      restored.close();
    }
  });

  it('a restored instance that had synced catches up with the remote like one that was offline: no conflict, nothing lost', async () => {
    // Data dirs side by side share the embedded folder remote `remote/` beside them.
    const folderCli = (args: string[], dataDir: string) =>
      runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir) }, cwd: tmp.dir });
    fs.mkdirSync(path.join(tmp.dir, 'data'));
    fs.writeFileSync(path.join(tmp.dir, 'a.txt'), 'alpha');
    fs.writeFileSync(path.join(tmp.dir, 'c.txt'), 'gamma');
    const id = (await folderCli(['files', 'put', 'a.txt'], 'data')).stdout.split(/\s+/)[0]!;
    expect((await folderCli(['sync'], 'data')).code).toBe(0);
    expect((await folderCli(['backup', 'b.tar'], 'data')).code).toBe(0);
    // After the backup the instance goes on: a new file, a label, both shared.
    await folderCli(['files', 'put', 'c.txt'], 'data');
    await folderCli(['files', 'tag', id, '--add-label', 'later'], 'data');
    expect((await folderCli(['sync'], 'data')).code).toBe(0);

    expect((await folderCli(['restore-backup', 'b.tar'], 'restored')).code).toBe(0);
    const sync = await folderCli(['sync', '--json'], 'restored');
    expect(sync.code, sync.stderr).toBe(0);
    expect(JSON.parse(sync.stdout)).toMatchObject({ conflicts: 0, errors: 0, downloaded: 1 });
    const listed = (await folderCli(['files', 'ls'], 'restored')).stdout;
    expect(listed).toMatch(new RegExp(`${id}\\s+synced .*"a\\.txt"\\s+labels=later`));
    expect(listed).toMatch(/synced .*"c\.txt"/);
  });

  it('a data dir that lost a blob a file names: the backup says so (exit 1), and its restore is refused', async () => {
    await seed({ 'a.txt': 'alpha', 'b.txt': 'beta' });
    const lost = createHash('sha256').update('beta').digest('hex');
    fs.rmSync(path.join(tmp.dir, 'data', 'blobs', lost.slice(0, 2), `${lost}.txt`));
    const run = await cli(['backup', 'b.tar']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`missing: blobs/${lost.slice(0, 2)}/${lost}.txt`);
    expect(run.stderr).toMatch(/the data dir lacks 1 blob\(s\) that files name/);
    expect((await cli(['restore-backup', 'b.tar'], 'restored')).code).toBe(1);
  });
});

/** Incompressible bytes, different per seed. */
function randomContent(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  return out;
}
