import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
/** Enough blobs that copying, checking and moving them takes a moment to kill the process in. */
const FILES = 1200;
const FILE_BYTES = 32 * 1024;

/**
 * `backup` and `restore-backup` killed (SIGKILL: no handler runs) in a real child process, in the
 * middle of their work: nothing may be left that looks like a finished backup or a whole data dir,
 * and the next run cleans up and goes through.
 */
describe('backup / restore-backup killed half way', () => {
  // One store and its backup for all tests (seeding takes seconds); each test writes elsewhere.
  let tmp: ReturnType<typeof tempDir>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    tmp = tempDir();
    await seedWithBackup();
  }, 120_000);
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(() => tmp.remove());

  const env = (dataDir: string) => ({ DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir), DOCSYNC_REMOTE: 'none' });
  const cli = (args: string[], dataDir = 'data') => runCliCaptured(args, { env: env(dataDir), cwd: tmp.dir });
  const content = (i: number) => Buffer.alloc(FILE_BYTES, `file ${i} `);

  /** A store of FILES files, and its backup `full.tar` (made in-process: only the killed runs are children). */
  const seedWithBackup = async () => {
    fs.mkdirSync(path.join(tmp.dir, 'data'));
    const docsync = openDocsync(loadConfig(env('data'), {}, tmp.dir), { create: false });
    try {
      for (let i = 0; i < FILES; i++) await docsync.files.create(Readable.from([content(i)]), { filename: `f${i}.bin` });
    } finally {
      docsync.close();
    }
    const made = await cli(['backup', 'full.tar']);
    expect(made.code, made.stderr).toBe(0);
  };

  /**
   * Runs the real CLI in a child and SIGKILLs it as soon as `when()` holds (checked every few ms).
   * 'finished' when the child ended on its own between the check and the signal.
   */
  const killWhen = async (args: string[], dataDir: string, when: () => boolean): Promise<'killed' | 'finished'> => {
    // From the repository, where tsx is found; paths in `args` are absolute.
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env(dataDir), DOCSYNC_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    for (;;) {
      if (child.exitCode !== null) throw new Error(`'${args.join(' ')}' ended (${child.exitCode}) before it could be killed: ${stderr}`);
      if (when()) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGKILL');
    await exited;
    return child.signalCode === 'SIGKILL' ? 'killed' : 'finished';
  };
  const entries = (dir: string) => fs.readdirSync(path.join(tmp.dir, dir)).sort();
  const sizeOf = (file: string) => {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  };
  const expectWholeStore = async (dataDir: string) => {
    const docsync = openDocsync(loadConfig(env(dataDir), {}, tmp.dir), { create: false });
    try {
      const files = docsync.files.list({ limit: FILES + 10 }).files;
      expect(files).toHaveLength(FILES);
      const i = 7;
      const file = files.find((f) => f.filename === `f${i}.bin`)!;
      const chunks: Buffer[] = [];
      for await (const chunk of docsync.files.openContent(file)) chunks.push(chunk as Buffer);
      expect(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')).toBe(createHash('sha256').update(content(i)).digest('hex'));
    } finally {
      docsync.close();
    }
  };

  it('a killed backup leaves no file under the name asked for; the next backup removes what it left and goes through', { timeout: 120_000 }, async () => {
    fs.mkdirSync(path.join(tmp.dir, 'backups'));
    fs.writeFileSync(path.join(tmp.dir, 'backups', 'notes.txt'), 'not ours: never touched');
    // Killed once the archive under way holds several MB (of ~38 MB).
    const growing = () => entries('backups').some((n) => n !== 'notes.txt' && sizeOf(path.join(tmp.dir, 'backups', n)) > 4 * 1024 * 1024);
    expect(await killWhen(['backup', path.join(tmp.dir, 'backups/monday.tar')], 'data', growing)).toBe('killed');
    const left = entries('backups');
    expect(left).not.toContain('monday.tar');
    expect(left.filter((n) => n !== 'notes.txt').length).toBeGreaterThan(0);

    // Another name in the same folder: the temp files of the killed run go all the same.
    const next = await cli(['backup', 'backups/tuesday.tar']);
    expect(next.code, next.stderr).toBe(0);
    expect(entries('backups')).toEqual(['notes.txt', 'tuesday.tar']);
    for (const name of left.filter((n) => n !== 'notes.txt')) expect(next.stderr).toContain(`removed what an interrupted backup left: ${name}`);
    const restored = await cli(['restore-backup', 'backups/tuesday.tar'], 'from-tuesday');
    expect(restored.code, restored.stderr).toBe(0);
    await expectWholeStore('from-tuesday');
  });

  it('a restore killed while moving files into place: docsync refuses the data dir and says how to finish; running it again finishes', { timeout: 120_000 }, async () => {
    const blobsMoving = () => {
      const shards = path.join(tmp.dir, 'restored', 'blobs');
      return fs.existsSync(shards) && fs.readdirSync(shards).length > 0;
    };
    // The blobs move in about 70 ms here: on a machine so busy that the signal comes after the
    // last one, the restore is done and a fresh one is killed instead (the assertions below need a
    // restore that did not finish).
    for (let attempt = 1; ; attempt++) {
      const outcome = await killWhen(['restore-backup', path.join(tmp.dir, 'full.tar')], 'restored', blobsMoving);
      if (outcome === 'killed' && !fs.existsSync(path.join(tmp.dir, 'restored', 'docsync.db'))) break;
      expect(attempt, 'every restore finished before the signal').toBeLessThan(3);
      fs.rmSync(path.join(tmp.dir, 'restored'), { recursive: true });
    }

    for (const args of [['files', 'ls'], ['recover'], ['serve']]) {
      const opened = await cli(args, 'restored');
      expect(opened.code, args.join(' ')).toBe(2);
      expect(opened.stderr).toContain(`A restore of ${path.join(tmp.dir, 'full.tar')} into ${path.join(tmp.dir, 'restored')} (started `);
      expect(opened.stderr).toContain(`did not finish: the data dir is half restored and docsync will not open it. Run 'docsync restore-backup`);
    }
    // Refused before anything was made or moved (`recover` would otherwise start a database).
    expect(fs.existsSync(path.join(tmp.dir, 'restored', 'docsync.db'))).toBe(false);

    const again = await cli(['restore-backup', 'full.tar'], 'restored');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^removed what an interrupted restore left: \.restore-\d+-[0-9a-f]{8}-[0-9a-f]+$/m);
    expect(again.stderr).toMatch(/^finished the restore of .*full\.tar that was interrupted/m);
    expect(entries('restored')).toEqual(['blobs', 'docsync.db']);
    await expectWholeStore('restored');
  });

  it('a restore killed while it unpacks: the next one removes the staging folder and needs no --force', { timeout: 120_000 }, async () => {
    const unpacking = () => {
      const dir = path.join(tmp.dir, 'restored2');
      const staging = fs.existsSync(dir) ? fs.readdirSync(dir).find((n) => n.startsWith('.restore-')) : undefined;
      const shards = staging && path.join(dir, staging, 'blobs');
      return shards !== undefined && fs.existsSync(shards) && fs.readdirSync(shards).length > 20;
    };
    expect(await killWhen(['restore-backup', path.join(tmp.dir, 'full.tar')], 'restored2', unpacking)).toBe('killed');
    expect(entries('restored2').some((n) => n.startsWith('.restore-'))).toBe(true);

    const again = await cli(['restore-backup', 'full.tar'], 'restored2');
    expect(again.code, again.stderr).toBe(0);
    expect(entries('restored2')).toEqual(['blobs', 'docsync.db']);
    await expectWholeStore('restored2');
  });
});
