import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { runCliCaptured, type CliRun as Run } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

describe('docsync CLI', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    // Only `serve` makes a new data dir; the other commands refuse a path that does not exist.
    fs.mkdirSync(path.join(tmp.dir, 'data'));
  });
  afterEach(() => tmp.remove());

  /** Runs the CLI in-process against the temp data dir, with `stdin` as piped input. */
  const cli = (args: string[], stdin = ''): Promise<Run> =>
    runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') }, cwd: tmp.dir, stdin });
  const idOf = (line: string) => line.split(/\s+/)[0]!;

  it('has --help on every command', async () => {
    for (const args of [[], ['serve'], ['user'], ['user', 'add'], ['user', 'passwd'], ['user', 'list'], ['user', 'token'],
      ['files'], ['files', 'ls'], ['files', 'put'], ['files', 'get'], ['files', 'rm'], ['files', 'tag']]) {
      const run = await cli([...args, '--help']);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: docsync/);
    }
    expect((await cli(['serve', '--help'])).stdout).toMatch(/--port <value>.*env PORT; default 8080/);
  });

  it('adds users with a password from stdin, lists them, and they can log in', async () => {
    expect(await cli(['user', 'add', 'ada'], 'analytical engine\n')).toMatchObject({ code: 0, stdout: "Created user 'ada'\n" });
    expect((await cli(['user', 'add', 'ada'], 'analytical engine\n')).stderr).toMatch(/already exists/);
    expect((await cli(['user', 'add', 'bob'], 'short\n')).code).toBe(2);
    expect((await cli(['user', 'list'])).stdout).toMatch(/^ada\t2\d{3}-/);
    expect((await cli(['user', 'passwd', 'ada'], 'difference engine\n')).code).toBe(0);
    const docsync = openDocsync(loadConfig({ DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') }));
    try {
      await expect(docsync.auth.login('ada', 'difference engine')).resolves.toMatchObject({ username: 'ada' });
      const token = (await cli(['user', 'token', 'ada', '--name', 'backup'])).stdout.trim();
      expect(docsync.auth.authenticateToken(token)).toMatchObject({ username: 'ada' });
    } finally {
      docsync.close();
    }
  });

  it('puts, lists, tags, gets and removes files through the same services as the API', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'paper.pdf'), '%PDF paper');
    fs.writeFileSync(path.join(tmp.dir, 'notes.txt'), 'some notes');
    const put = await cli(['files', 'put', 'paper.pdf', 'notes.txt', '--collection', 'phd', '--collection', 'y1', '--label', 'draft']);
    expect(put.code, put.stderr).toBe(0);
    const [paperLine, notesLine] = put.stdout.trim().split('\n');
    expect(paperLine).toMatch(/modified .* "paper\.pdf"\s+collections=phd,y1\s+labels=draft/);
    const paperId = idOf(paperLine!);
    const notesId = idOf(notesLine!);

    const tagged = await cli(['files', 'tag', paperId, '--add-label', 'final', '--remove-label', 'draft', '--remove-collection', 'y1']);
    expect(tagged.stdout).toMatch(/collections=phd\s+labels=final/);

    const ls = await cli(['files', 'ls', '--label', 'final']);
    expect(ls.stdout.trim().split('\n').map(idOf)).toEqual([paperId]);
    const json = JSON.parse((await cli(['files', 'ls', '--json'])).stdout) as { total: number };
    expect(json.total).toBe(2);

    expect(await cli(['files', 'get', paperId, '-o', 'copy.pdf'])).toMatchObject({ code: 0 });
    expect(fs.readFileSync(path.join(tmp.dir, 'copy.pdf'), 'utf8')).toBe('%PDF paper');
    expect((await cli(['files', 'get', notesId])).stdout).toBe('some notes');

    expect((await cli(['files', 'rm', notesId])).stdout).toBe(`deleted ${notesId}\n`);
    expect((await cli(['files', 'ls'])).stdout.trim().split('\n').map(idOf)).toEqual([paperId]);
    expect((await cli(['files', 'ls', '--include-deleted'])).stdout).toMatch(/deleted .* "notes\.txt"/);
  });

  it('puts every path it can when some cannot be added, lists each failure, and exits 1', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'a.txt'), 'a');
    fs.writeFileSync(path.join(tmp.dir, 'c.txt'), 'c');
    fs.mkdirSync(path.join(tmp.dir, 'folder'));
    const put = await cli(['files', 'put', 'a.txt', 'gone.txt', 'c.txt', 'folder', 'also-gone.pdf']);
    expect(put.code).toBe(1);
    expect(put.stdout.trim().split('\n').map((l) => l.match(/"(.*)"/)?.[1])).toEqual(['a.txt', 'c.txt']);
    expect(put.stderr).toBe(
      'failed: gone.txt: no such file\n' +
        "failed: folder: is a folder (use 'docsync import' for folders)\n" +
        'failed: also-gone.pdf: no such file\n' +
        'error: 3 of 5 file(s) were not added (listed above); the rest was\n',
    );
    const ls = JSON.parse((await cli(['files', 'ls', '--json'])).stdout) as { files: { filename: string }[] };
    expect(ls.files.map((f) => f.filename).sort()).toEqual(['a.txt', 'c.txt']);
    // Nothing of the failed ones is left half-staged in the data dir.
    expect(fs.readdirSync(path.join(tmp.dir, 'data', 'tmp'))).toEqual([]);
  });

  it('reports errors with a message and a non-zero exit code', async () => {
    expect(await cli(['files', 'get', 'zzzzzzzzzzzz'])).toMatchObject({ code: 1, stderr: "error: No file with id 'zzzzzzzzzzzz'\n" });
    expect(await cli(['files', 'put', 'missing.pdf'])).toMatchObject({
      code: 1,
      stderr: 'failed: missing.pdf: no such file\nerror: 1 of 1 file(s) were not added (listed above); the rest was\n',
    });
    expect((await cli(['files', 'ls', '--limit', 'lots'])).stderr).toMatch(/--limit must be a positive whole number/);
    expect((await cli(['files', 'frobnicate'])).code).toBe(2);
    const badConfig = await cli(['serve', '--port', 'http']);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/PORT \(--port\) must be a whole number/);
  });

  it('takes --data-dir before or after the command', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'a.txt'), 'a');
    const other = path.join(tmp.dir, 'other');
    fs.mkdirSync(other);
    expect((await cli(['--data-dir', other, 'files', 'put', 'a.txt'])).code).toBe(0);
    expect((await cli(['files', 'ls', '--data-dir', other])).stdout).toMatch(/"a\.txt"/);
    expect((await cli(['files', 'ls'])).stdout).toBe('');
    expect(fs.existsSync(path.join(other, 'docsync.db'))).toBe(true);
  });
});
