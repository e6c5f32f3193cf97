/**
 * deploy/docsync.service as systemd reads it: `systemd-analyze verify` (no unknown keys, no bad
 * values, an executable ExecStart) and `systemd-analyze security --offline` (the hardening holds).
 * verify insists that ExecStart exists, so the test points it at the repository's bin/docsync.js.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/instance.ts';
import { findBinary } from '../support/webdav-servers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = path.join(ROOT, 'deploy/docsync.service');
const SHIPPED_EXEC = 'ExecStart=/usr/local/bin/docsync serve';
const analyze = findBinary('systemd-analyze');

if (!analyze) {
  const message = 'systemd unit NOT CHECKED: systemd-analyze is missing (Debian package systemd; scripts/install-system-deps.sh)';
  if (process.env.CI === 'true') throw new Error(`CI=true requires it. ${message}`);
  console.warn(`\n${'!'.repeat(78)}\n!!! ${message}\n${'!'.repeat(78)}\n`);
}

describe.skipIf(!analyze)('deploy/docsync.service', () => {
  let tmp: ReturnType<typeof tempDir>;
  const text = fs.readFileSync(UNIT, 'utf8');
  /** The unit with `ExecStart` on a real file; `edit` changes it further (to see a check fail). */
  const writeUnit = (edit: (unit: string) => string = (u) => u): string => {
    if (!text.includes(SHIPPED_EXEC)) throw new Error(`${UNIT} has no '${SHIPPED_EXEC}' line: update this test with it`);
    const file = path.join(tmp.dir, 'docsync.service');
    fs.writeFileSync(file, edit(text.replace(SHIPPED_EXEC, `ExecStart=${path.join(ROOT, 'bin/docsync.js')} serve`)));
    return file;
  };
  const run = (args: string[]) => spawnSync(analyze!, args, { encoding: 'utf8', cwd: tmp.dir, timeout: 30_000 });

  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp.remove());

  it('passes systemd-analyze verify without a word', () => {
    const result = run(['verify', '--man=no', writeUnit()]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('verify would catch a misspelt option or a missing binary (the check is real)', () => {
    const misspelt = run(['verify', '--man=no', writeUnit((u) => u.replace('ProtectClock=yes', 'ProtectClok=yes'))]);
    expect(misspelt.stderr).toContain("Unknown key 'ProtectClok'");
    const missing = run(['verify', '--man=no', writeUnit((u) => u.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/docsync'))]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('/nonexistent/docsync is not executable');
  });

  it('runs as its own user with the state directory, the secrets file, and the graceful-stop timeout', () => {
    const settings = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const match = /^(\w+)=(.*)$/.exec(line);
      if (match) settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!]);
    }
    expect(settings.get('User')).toEqual(['docsync']);
    expect(settings.get('StateDirectory')).toEqual(['docsync']);
    expect(settings.get('EnvironmentFile')).toEqual(['-/etc/docsync/docsync.env']);
    expect(settings.get('Environment')).toContain('DOCSYNC_DATA_DIR=/var/lib/docsync/data');
    // In-flight requests get 5 s and a stalled remote fails a sync in about 40 s; the lock release 10 s more.
    expect(Number(settings.get('TimeoutStopSec')?.[0])).toBeGreaterThanOrEqual(60);
    for (const hardening of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ProtectHome=yes']) {
      const [key, value] = hardening.split('=');
      expect(settings.get(key!), key).toEqual([value]);
    }
  });

  it("its environment is a valid docsync configuration: serve starts with it, and stops on systemd's SIGTERM with 0", async () => {
    const env: Record<string, string> = {};
    for (const match of text.matchAll(/^Environment=(\w+)=(.*)$/gm)) env[match[1]!] = match[2]!;
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['DOCSYNC_DATA_DIR', 'HOST', 'PORT', 'DOCSYNC_TRUST_PROXY', 'NODE_OPTIONS']));
    // Only the places change: a temp data dir for /var/lib/docsync, a free port.
    const overrides = { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data'), PORT: '0', DOCSYNC_ADMIN_PASSWORD: 'a long enough password' };
    // systemd makes the data dir (StateDirectory=); serve refuses a named one that is missing.
    fs.mkdirSync(overrides.DOCSYNC_DATA_DIR, { mode: 0o700 });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...overrides },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start with the unit's environment:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('has an exposure level of at most 2.0 in systemd-analyze security', () => {
    // --threshold is in tenths: exit status 1 above an exposure of 2.0.
    const result = run(['security', '--offline=true', '--threshold=20', '--no-pager', writeUnit()]);
    const level = /Overall exposure level for docsync\.service: ([\d.]+)/.exec(result.stdout)?.[1];
    expect(level, result.stdout + result.stderr).toBeDefined();
    expect(Number(level)).toBeLessThanOrEqual(2);
    expect(result.status).toBe(0);
  });
});
