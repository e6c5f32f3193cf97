/**
 * Stopping in the middle of a sync, against real Apache WebDAV behind a proxy that holds the upload
 * of one blob (a slow remote): Ctrl-C in `docsync sync` gives the remote lock back and exits 130;
 * SIGTERM to `docsync serve` lets the running sync finish, then exits 0 (what systemd sends).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { runCliCaptured } from '../support/cli.ts';
import { startHostileProxy, type HostileProxy } from '../support/hostile-proxy.ts';
import { tempDir } from '../support/instance.ts';
import { availableServerKinds, startWebDavServer, type WebDavTestServer } from '../support/webdav-servers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const ADMIN_PASSWORD = 'a long enough password';

const hasApache = availableServerKinds().includes('apache');
if (!hasApache) {
  const message = 'Stopping tests NOT RUN: Apache WebDAV is missing (scripts/install-system-deps.sh)';
  if (process.env.CI === 'true') throw new Error(`CI=true requires it. ${message}`);
  console.warn(`\n${'!'.repeat(78)}\n!!! ${message}\n${'!'.repeat(78)}\n`);
}

async function until(what: string, check: () => boolean, withinMs: number, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe.skipIf(!hasApache)('stopping during a sync (Apache WebDAV, one blob upload held)', () => {
  let server: WebDavTestServer;
  let proxy: HostileProxy;
  let tmp: ReturnType<typeof tempDir>;
  let children: ChildProcessWithoutNullStreams[] = [];
  let rootCounter = 0;

  beforeAll(async () => {
    server = await startWebDavServer('apache');
    proxy = await startHostileProxy(new URL(server.baseUrl).origin);
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children = [];
    proxy.behave();
    tmp?.remove();
  });

  /** A data dir holding one unsynced file, synced to a fresh remote root through the proxy. */
  async function instance(name: string, remoteRoot: string, content?: string) {
    const env: Record<string, string> = {
      DOCSYNC_DATA_DIR: path.join(tmp.dir, name),
      WEBDAV_BASE_URL: `${proxy.origin}/dav`,
      WEBDAV_USERNAME: server.username,
      WEBDAV_PASSWORD: server.password,
      WEBDAV_REMOTE_ROOT: remoteRoot,
      DOCSYNC_LOG_LEVEL: 'info',
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD,
      PORT: '0',
    };
    const docsync = openDocsync(loadConfig(env));
    if (content !== undefined) await docsync.files.create(Readable.from([Buffer.from(content)]), { filename: `${name}.txt` });
    docsync.close();
    return env;
  }

  function spawnCli(args: string[], env: Record<string, string>) {
    // cwd: the repository, where `--import tsx` is found; every path in `env` is absolute.
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    children.push(child);
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (output.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output.stderr += c.toString()));
    return { child, output };
  }

  /** Holds every upload of this content's blob until `proxy.behave()`. */
  function holdUpload(content: string): string {
    const hash = createHash('sha256').update(content).digest('hex');
    proxy.misbehave({ method: 'PUT', pathIncludes: hash, times: Infinity, does: { kind: 'stallHeaders' } });
    return hash;
  }

  const uploadStarted = (hash: string) => proxy.log.some((line) => line.startsWith('PUT ') && line.includes(hash));

  it('Ctrl-C in `docsync sync` releases the remote lock and exits 130; another instance syncs at once', async () => {
    tmp = tempDir();
    const remoteRoot = `/stop-${process.pid}-${rootCounter++}`;
    const lockDir = path.join(server.rootDir, remoteRoot, 'version.txt.lock');
    const content = 'interrupted upload';
    const env = await instance('a', remoteRoot, content);
    const hash = holdUpload(content);

    const { child, output } = spawnCli(['sync'], env);
    await until('the blob upload starts under the lock', () => uploadStarted(hash), 20_000, () => output.stderr);
    expect(fs.existsSync(lockDir)).toBe(true);

    child.kill('SIGINT');
    const exit = await Promise.race([exitOf(child), new Promise<'hung'>((resolve) => setTimeout(resolve, 15_000, 'hung'))]);
    expect(exit, output.stderr).toEqual({ code: 130, signal: null });
    expect(output.stderr).toContain('interrupted: giving the remote lock back');
    expect(output.stderr).toContain('remote lock released');
    expect(fs.existsSync(lockDir)).toBe(false);

    // Another instance does not wait out the lock's TTL (60 s): a 2 s wait is enough.
    proxy.behave();
    const other = await instance('b', remoteRoot);
    const synced = await runCliCaptured(['sync'], { env: { ...other, DOCSYNC_LOCK_WAIT: '2', DOCSYNC_LOG_LEVEL: 'silent' }, cwd: tmp.dir });
    expect(synced.code, synced.stderr).toBe(0);
    // And the interrupted instance finishes its job with the next sync.
    const again = await runCliCaptured(['sync'], { env: { ...env, DOCSYNC_LOG_LEVEL: 'silent' }, cwd: tmp.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(fs.readFileSync(path.join(server.rootDir, remoteRoot, hash.slice(0, 2), `${hash}.txt`), 'utf8')).toBe(content);
  });

  it('SIGTERM to `docsync serve` during a sync lets the sync finish, then exits 0 with the lock released', async () => {
    tmp = tempDir();
    const remoteRoot = `/stop-${process.pid}-${rootCounter++}`;
    const lockDir = path.join(server.rootDir, remoteRoot, 'version.txt.lock');
    const content = 'upload during shutdown';
    const env = await instance('served', remoteRoot, content);
    const hash = holdUpload(content);

    const { child, output } = spawnCli(['serve'], env);
    await until('serve listens', () => /listening on (http:\/\/\S+)/.test(output.stderr), 20_000, () => output.stderr);
    const url = /listening on (http:\/\/\S+)/.exec(output.stderr)![1]!;
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    const { sessionId } = (await login.json()) as { sessionId: string };
    const sync = fetch(`${url}/api/v1/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-id': sessionId },
      body: '{}',
    }).then((r) => r.status, (error: unknown) => String(error));
    await until('the blob upload starts under the lock', () => uploadStarted(hash), 20_000, () => output.stderr + output.stdout);

    child.kill('SIGTERM');
    // The server waits for the sync (it holds the lock): still running while the upload is held.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(child.exitCode).toBeNull();
    expect(fs.existsSync(lockDir)).toBe(true);

    proxy.behave(); // the held upload is cut; its retry goes through and the sync completes
    const exit = await Promise.race([exitOf(child), new Promise<'hung'>((resolve) => setTimeout(resolve, 20_000, 'hung'))]);
    expect(exit, output.stderr + output.stdout).toEqual({ code: 0, signal: null });
    expect(output.stdout).toContain('shutting down');
    expect(fs.existsSync(lockDir)).toBe(false);
    expect(fs.readFileSync(path.join(server.rootDir, remoteRoot, 'version.txt'), 'utf8')).toMatch(/\S/);
    expect(fs.readFileSync(path.join(server.rootDir, remoteRoot, hash.slice(0, 2), `${hash}.txt`), 'utf8')).toBe(content);
    // The request that started the sync was answered or cut after 5 s; either way the commit landed.
    expect([200, 'TypeError: fetch failed']).toContain(await sync);
  });
});
