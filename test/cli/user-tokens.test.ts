import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync } from '../../src/docsync.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

describe('docsync user tokens / revoke-token', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    // Only `serve` creates a data dir; the other commands refuse a missing one.
    fs.mkdirSync(path.join(tmp.dir, 'data'));
  });
  afterEach(() => tmp.remove());

  const cli = (args: string[], stdin = '') =>
    runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') }, cwd: tmp.dir, stdin });

  it('lists tokens without secrets and revokes one by id', async () => {
    expect((await cli(['user', 'add', 'ada'], 'analytical engine\n')).code).toBe(0);
    const first = (await cli(['user', 'token', 'ada', '--name', 'laptop'])).stdout.trim();
    const second = (await cli(['user', 'token', 'ada', '--name', 'backup'])).stdout.trim();
    const listing = await cli(['user', 'tokens', 'ada']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^2\tbackup\t2\d{3}-\S+\tnever used\n1\tlaptop\t/);
    expect(listing.stdout).not.toContain(first);
    expect(listing.stdout).not.toContain(second);

    expect(await cli(['user', 'revoke-token', 'ada', '1'])).toMatchObject({ code: 0, stdout: "Revoked API token 1 of 'ada'\n" });
    expect((await cli(['user', 'tokens', 'ada'])).stdout).not.toMatch(/laptop/);
    const docsync = openDocsync(loadConfig({ DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') }));
    try {
      expect(docsync.auth.authenticateToken(first)).toBeUndefined();
      expect(docsync.auth.authenticateToken(second)).toMatchObject({ username: 'ada' });
    } finally {
      docsync.close();
    }
    expect((await cli(['user', 'revoke-token', 'ada', '1'])).stderr).toMatch(/No API token 1 for 'ada'/);
    expect((await cli(['user', 'revoke-token', 'ada', 'x'])).stderr).toMatch(/positive integer/);
  });
});
