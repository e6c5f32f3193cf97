import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import { API_PREFIX, buildApp } from '../../src/http/app.ts';
import { TEST_PASSWORD, tempDir, uploadBody, type TestApp } from '../support/instance.ts';

/**
 * A really full disk: a small tmpfs mounted by the test (needs root, or CAP_SYS_ADMIN). Where it
 * cannot be mounted the suite is skipped with a loud message, except under CI=true, where it fails.
 */
const mountPoint = tempDir('docsync-full-disk-');
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint.dir], { encoding: 'utf8' });
const canMount = mounted.status === 0;
if (!canMount) {
  const why = (mounted.stderr || mounted.error?.message || `exit ${mounted.status}`).trim();
  if (process.env.CI === 'true') throw new Error(`CI=true requires the disk-full tests, but a tmpfs cannot be mounted: ${why}`);
  const banner = '!'.repeat(78);
  console.warn(`\n${banner}\n!!! Disk-full tests NOT RUN: cannot mount a tmpfs (${why}). Run them as root.\n${banner}\n`);
}

/** Fills the disk holding `dir` until ENOSPC, then frees `leaveBytes`: returns the filler's path. */
function fillDisk(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += fs.writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, Math.max(0, written - leaveBytes));
  return filler;
}

describe.skipIf(!canMount)('a full disk under the data dir', () => {
  const remote = tempDir('docsync-full-remote-');
  let docsync: Docsync;
  let app: TestApp;
  let auth: Record<string, string>;
  const dataDir = path.join(mountPoint.dir, 'data');
  const config = loadConfig({ DOCSYNC_DATA_DIR: dataDir, DOCSYNC_REMOTE: `file://${remote.dir}`, DOCSYNC_LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    docsync = openDocsync(config);
    await docsync.auth.ensureAdmin(TEST_PASSWORD);
    app = await buildApp(docsync);
    const login = await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
    auth = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
  });
  afterEach(() => fs.rmSync(path.join(mountPoint.dir, 'filler'), { force: true }));
  afterAll(async () => {
    await app?.close();
    docsync?.close();
    spawnSync('umount', [mountPoint.dir]);
    mountPoint.remove();
    remote.remove();
  });

  const get = (url: string) => app.inject({ method: 'GET', url: `${API_PREFIX}${url}`, headers: auth });
  const upload = (name: string, content: Buffer | string) => {
    const body = uploadBody(name, content);
    return app.inject({ method: 'POST', url: `${API_PREFIX}/files`, headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  it('an upload larger than the free space gets 507 with a clear message; nothing half-written stays; reads go on', async () => {
    expect((await upload('small.txt', 'fits')).statusCode).toBe(201);
    const big = await upload('big.pdf', Buffer.alloc(6 * 1024 * 1024, 7));
    expect(big.statusCode).toBe(507);
    expect(big.json()).toMatchObject({ error: 'insufficient_storage', message: expect.stringMatching(/disk holding the data dir is full.*Free some space/) });
    expect(fs.readdirSync(path.join(dataDir, 'tmp'))).toEqual([]);
    const list = await get('/files');
    expect(list.statusCode).toBe(200);
    expect(list.json<{ files: { filename: string }[] }>().files.map((f) => f.filename)).toEqual(['small.txt']);
    expect((await get('/health')).json()).toMatchObject({ status: 'ok' });
    // Once there is room again, uploads work.
    expect((await upload('after.txt', 'room again')).statusCode).toBe(201);
  });

  it('a database write on a full disk (SQLITE_FULL) gets 507, not a bare 500', async () => {
    const file = (await upload('meta.txt', 'x')).json<{ stable_id: string }>();
    fillDisk(mountPoint.dir, 0);
    let answer;
    // Each PATCH grows the WAL by a page or so; the disk is full, so one of the first few fails.
    for (let i = 0; i < 50; i++) {
      answer = await app.inject({
        method: 'PATCH',
        url: `${API_PREFIX}/files/${file.stable_id}`,
        headers: auth,
        payload: { metadata: { round: i, padding: 'y'.repeat(8000) } },
      });
      if (answer.statusCode !== 200) break;
    }
    expect(answer!.statusCode).toBe(507);
    expect(answer!.json()).toMatchObject({ error: 'insufficient_storage' });
    expect((await get('/files')).statusCode).toBe(200);
    expect((await get('/health')).statusCode).toBe(200);
  });

  it('a sync whose download hits ENOSPC stops with a clear error and applies nothing; after freeing space the next sync completes', async () => {
    const other = openDocsync(loadConfig({ DOCSYNC_DATA_DIR: path.join(remote.dir, '..', `${path.basename(remote.dir)}-other`), DOCSYNC_REMOTE: `file://${remote.dir}`, DOCSYNC_LOG_LEVEL: 'silent' }));
    try {
      await other.files.create(Readable.from([Buffer.alloc(1536 * 1024, 3)]), { filename: 'large.pdf' });
      await other.files.create(Readable.from([Buffer.from('small')]), { filename: 'small-remote.txt' });
      await other.sync.sync();
    } finally {
      other.close();
      fs.rmSync(path.join(remote.dir, '..', `${path.basename(remote.dir)}-other`), { recursive: true, force: true });
    }
    const before = (await get('/files')).json<{ files: unknown[] }>().files.length;
    fillDisk(mountPoint.dir, 512 * 1024);
    const failed = docsync.sync.sync();
    await expect(failed).rejects.toMatchObject({ status: 507, code: 'insufficient_storage' });
    await expect(failed).rejects.toThrow(/disk holding the data dir is full: 1 of 2 download\(s\) could not be stored.*Free some space and sync again/);
    expect((await get('/files')).json<{ files: unknown[] }>().files).toHaveLength(before);
    expect(fs.readdirSync(path.join(dataDir, 'tmp')).filter((n) => n.endsWith('.part'))).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'sync.lock'))).toBe(false);

    fs.rmSync(path.join(mountPoint.dir, 'filler'));
    expect(await docsync.sync.sync()).toMatchObject({ downloaded: 2, errors: 0 });
    const names = (await get('/files')).json<{ files: { filename: string }[] }>().files.map((f) => f.filename);
    expect(names).toEqual(expect.arrayContaining(['large.pdf', 'small-remote.txt']));
  });
});
