import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FILES = 30;

/** Every `done/total` count the progress output ever showed. */
function countsShown(stderr: string): [number, number][] {
  return [...stderr.matchAll(/(\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** A loopback port nobody listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('docsync sync: progress output and exit codes', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    tmp = tempDir();
    fs.mkdirSync(path.join(tmp.dir, 'data'));
    const paths = [];
    for (let i = 0; i < FILES; i++) {
      paths.push(`f${i}.txt`);
      fs.writeFileSync(path.join(tmp.dir, `f${i}.txt`), `file ${i} `.repeat(100 + i));
    }
    const put = await cli(['files', 'put', ...paths]);
    expect(put.code, put.stderr).toBe(0);
  });
  afterEach(() => tmp.remove());

  const env = () => ({ DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') });
  const cli = (args: string[], extra: Record<string, string> = {}, terminal?: { columns: number }) =>
    runCliCaptured(args, { env: { ...env(), ...extra }, cwd: tmp.dir, ...(terminal && { stderrTerminal: terminal }) });
  const totalBytes = () => Array.from({ length: FILES }, (_, i) => `file ${i} `.length * (100 + i)).reduce((a, b) => a + b, 0);

  it('on a terminal: the bar counts files of the phase, never past the total, and ends on the true total', async () => {
    const run = await cli(['sync'], {}, { columns: 120 });
    expect(run.code, run.stderr).toBe(0);
    const counts = countsShown(run.stderr);
    expect(counts.length).toBeGreaterThan(0);
    for (const [done, total] of counts) expect(done).toBeLessThanOrEqual(total);
    expect(counts.filter(([, total]) => total === FILES).length).toBeGreaterThan(0);
    // Redrawn in place while it runs; what stays is one line per counted phase with its totals.
    expect(run.stderr).toContain('\r\x1b[2K');
    const kept = run.stderr.split('\n').map((line) => line.split('\r').at(-1)!.replace(/\x1b\[2K/g, '')).filter(Boolean);
    const kb = (totalBytes() / 1000).toFixed(1);
    // (Messages, such as why garbage collection waits, keep their own lines too.)
    expect(kept.filter((line) => /\d+\/\d+/.test(line))).toEqual([expect.stringMatching(new RegExp(`^uploaded ${FILES}/${FILES} files · ${kb} kB in [\\d.]+ s`))]);
    expect(run.stdout).toMatch(new RegExp(`^Synced: ${FILES} uploaded \\(version 1, \\d+ ms\\)\\n$`));
  });

  it('on a pipe (a spawned CLI, no pty): plain lines only, the last progress line the true total', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'sync'], { cwd: REPO, env: { ...process.env, ...env() }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/[\r\x1b]/);
    for (const [done, total] of countsShown(stderr)) expect(done).toBeLessThanOrEqual(total);
    expect(stderr.split('\n').filter((line) => /\d+\/\d+/.test(line)).at(-1)).toMatch(new RegExp(`^uploaded ${FILES}/${FILES} files · ${(totalBytes() / 1000).toFixed(1)} kB in `));
    expect(stdout).toMatch(new RegExp(`^Synced: ${FILES} uploaded \\(version 1, \\d+ ms\\)\\n$`));
  });

  it('--json prints the summary and no progress', async () => {
    const run = await cli(['sync', '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/\d+\/\d+|\r/);
    expect(JSON.parse(run.stdout)).toMatchObject({ uploaded: FILES, bytes_uploaded: totalBytes() });
  });

  it('a remote that does not answer: exit 4 from sync and from status', async () => {
    const unreachable = { WEBDAV_BASE_URL: `http://127.0.0.1:${await closedPort()}` };
    const sync = await cli(['sync'], unreachable);
    expect(sync.code, sync.stderr).toBe(4);
    expect(sync.stderr).toMatch(/^error: WebDAV server unreachable/m);
    const status = await cli(['status'], unreachable);
    expect(status.code).toBe(4);
    expect(status.stdout).toMatch(/remote error:\s+WebDAV server unreachable/);
    const json = await cli(['status', '--json'], unreachable);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({ remote_error_code: 'remote_unavailable' });
    // Reachable again (the folder remote): status is 0 even with changes waiting, like `git status`.
    const ok = await cli(['status']);
    expect(ok.stdout).toMatch(/needs sync:\s+yes/);
    expect(ok.code).toBe(0);
  });
});
