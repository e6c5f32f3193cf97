import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

describe('the CLI on a data dir it cannot use as it is', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCliCaptured(args, { env: { DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent', PORT: '0', ...env }, cwd: tmp.dir });

  /** The real CLI in a child process: a spin would block the test's own event loop. */
  function cliProcess(args: string[]): { status: number | null; stderr: string; elapsedMs: number } {
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent', PORT: '0' },
      timeout: 20_000,
      encoding: 'utf8',
    });
    return { status: run.status, stderr: run.stderr, elapsedMs: Date.now() - started };
  }

  it('refuses a data dir that does not exist, naming the absolute path and how to create one', async () => {
    const run = await cli(['--data-dir', 'mistyped', 'files', 'ls']);
    expect(run.code).toBe(2);
    const absolute = path.join(tmp.dir, 'mistyped');
    expect(run.stderr).toContain(`The data dir ${absolute} does not exist`);
    expect(run.stderr).toContain(`docsync init --data-dir ${absolute}`);
    expect(run.stderr).toContain(`docsync serve --init --data-dir ${absolute}`);
    expect(fs.existsSync(absolute)).toBe(false);
    for (const args of [['status'], ['sync'], ['user', 'list'], ['recover']]) {
      expect((await cli(['--data-dir', 'mistyped', ...args])).code, args.join(' ')).toBe(2);
    }
    expect(fs.existsSync(absolute)).toBe(false);
  });

  it('a data dir that is a file gets a one-line error and exit code 2', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'data'), 'a file');
    for (const args of [['files', 'ls'], ['serve']]) {
      const run = await cli(['--data-dir', 'data', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toBe(`error: The data dir ${path.join(tmp.dir, 'data')} is not a folder (a file is in the way): fix the path or move the file\n`);
    }
  });

  it('a data dir that cannot be created (/proc/foo) fails at once, no spinning', () => {
    // Measured against the CLI's own start-up on this machine (seconds under load): a spin would
    // run into the 20 s timeout instead.
    const startup = cliProcess(['--version']).elapsedMs;
    const serve = cliProcess(['serve', '--init', '--data-dir', '/proc/docsync-test/data']);
    expect(serve.elapsedMs).toBeLessThan(startup + 5000);
    expect(serve.status).toBe(2);
    expect(serve.stderr).toMatch(/^error: Cannot create the data dir \/proc\/docsync-test\/data: /);
    const ls = cliProcess(['--data-dir', '/proc/foo', 'files', 'ls']);
    expect(ls.elapsedMs).toBeLessThan(startup + 5000);
    expect(ls.status).toBe(2);
    expect(ls.stderr).toContain('The data dir /proc/foo does not exist');
  }, 90_000);

  it('serve refuses a data dir whose database is gone beside blobs (exit 2), and starts after docsync recover', async () => {
    const dataDir = path.join(tmp.dir, 'data');
    const docsync = openDocsync(loadConfig({ DOCSYNC_DATA_DIR: dataDir, DOCSYNC_REMOTE: 'none' }));
    await docsync.files.create(Readable.from([Buffer.from('never synced')]), { filename: 'notes.txt' });
    docsync.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(dataDir, `docsync.db${suffix}`), { force: true });

    const refused = await cli(['serve', '--data-dir', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`The data dir ${dataDir} holds 1 blob(s) but no database`);
    expect(refused.stderr).toContain(`docsync recover --data-dir ${dataDir}`);
    expect(fs.existsSync(path.join(dataDir, 'docsync.db'))).toBe(false);

    const recovered = await cli(['recover', '--data-dir', dataDir]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(recovered.stdout).toContain('database:        missing; a fresh one was made');
    expect(recovered.stdout).toContain('remote:          not adopted (no remote is configured)');
    expect(recovered.stdout).toContain("recovered:       1 local blob(s)");
    const list = await cli(['--data-dir', dataDir, 'files', 'ls']);
    expect(list.stdout).toMatch(/modified .*"recovered-[0-9a-f]{12}\.txt"\s+collections=recovered/);
    expect((await cli(['recover', '--data-dir', dataDir])).stdout).toContain('recovered:       0 local blob(s)');
  });

  it('serve sweeps temp files of killed transfers older than the grace period, keeps young ones, and logs the count', async () => {
    const dataDir = path.join(tmp.dir, 'data');
    const tmpDir = path.join(dataDir, 'tmp');
    fs.mkdirSync(tmpDir, { recursive: true });
    const old = Date.now() / 1000 - 3600;
    const leftovers = ['0123456789abcdef01234567.part', 'snapshot-0011223344556677.db', 'snapshot-0011223344556677.db-wal'];
    for (const name of leftovers) {
      fs.writeFileSync(path.join(tmpDir, name), 'x');
      fs.utimesSync(path.join(tmpDir, name), old, old);
    }
    fs.writeFileSync(path.join(tmpDir, 'aaaaaaaaaaaaaaaaaaaaaaaa.part'), 'a transfer in progress');
    fs.writeFileSync(path.join(tmpDir, 'snapshot-8899aabbccddeeff.db'), 'a sync in progress');
    fs.writeFileSync(path.join(tmpDir, 'notes.txt'), 'not ours');
    fs.utimesSync(path.join(tmpDir, 'notes.txt'), old, old);

    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--data-dir', dataDir, '--log-level', 'info'], {
      cwd: ROOT,
      env: { ...process.env, DOCSYNC_REMOTE: 'none', PORT: '0', DOCSYNC_ADMIN_PASSWORD: 'a long enough password' },
    });
    try {
      let stdout = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (/swept temp files[^\n]*\n/.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      expect(fs.readdirSync(tmpDir).sort()).toEqual(['aaaaaaaaaaaaaaaaaaaaaaaa.part', 'notes.txt', 'snapshot-8899aabbccddeeff.db']);
      const line = stdout.split('\n').find((l) => l.includes('swept temp files'));
      expect(JSON.parse(line!)).toMatchObject({ removed: 3, kept: 2 });
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('a reader that closes the pipe early (`| head -1`) ends the command quietly, exit 0, no EPIPE', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--help'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the CLI has started: its first write meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|Error/);
    expect(code).toBe(0);
  }, 60_000);
});
