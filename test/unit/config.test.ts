import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRemote, loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const cwd = '/srv/docsync';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, {}, cwd);
    expect(config).toMatchObject({
      dataDir: path.join(cwd, 'data'),
      port: 8080,
      host: '127.0.0.1',
      remote: { kind: 'folder', path: path.join(cwd, 'remote') },
      syncIntervalSeconds: 300,
      transferWorkers: 4,
      lockTtlSeconds: 60,
      lockWaitSeconds: 300,
      maxDeletePercent: 50,
      maxUploadBytes: 200 * 1024 * 1024,
      logLevel: 'info',
      historyDays: 30,
      gcGraceHours: 24,
      gcIntervalHours: 24,
    });
    expect(config.adminPassword).toBeUndefined();
  });

  it('reads the environment, and CLI flags win over it', () => {
    const env = { PORT: '9000', DOCSYNC_DATA_DIR: 'elsewhere', DOCSYNC_MAX_UPLOAD_MB: '5' };
    expect(loadConfig(env, {}, cwd)).toMatchObject({ port: 9000, dataDir: path.join(cwd, 'elsewhere'), maxUploadBytes: 5 << 20 });
    expect(loadConfig(env, { port: '9100', dataDir: '/abs/data' }, cwd)).toMatchObject({ port: 9100, dataDir: '/abs/data' });
  });

  it('reports every bad value at once, naming the variable and the flag', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DOCSYNC_TRANSFER_WORKERS: '0', DOCSYNC_MAX_DELETE_PERCENT: '150', DOCSYNC_LOG_LEVEL: 'loud' }, {}, cwd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems).toContain("PORT (--port) must be a whole number from 0 to 65535, got 'eighty'");
    expect((error as Error).message).toMatch(/DOCSYNC_TRANSFER_WORKERS \(--transfer-workers\) must be a whole number from 1/);
    expect((error as Error).message).toMatch(/DOCSYNC_MAX_DELETE_PERCENT/);
    expect((error as Error).message).toMatch(/DOCSYNC_LOG_LEVEL .* got 'loud'/);
  });

  it('validates the GC settings: a grace of at least an hour, an interval of 0 turns automatic GC off', () => {
    expect(loadConfig({ DOCSYNC_GC_GRACE_HOURS: '2', DOCSYNC_GC_INTERVAL_HOURS: '0', DOCSYNC_HISTORY_DAYS: '1' }, {}, cwd)).toMatchObject({
      gcGraceHours: 2,
      gcIntervalHours: 0,
      historyDays: 1,
    });
    expect(() => loadConfig({ DOCSYNC_GC_GRACE_HOURS: '0' }, {}, cwd)).toThrow(/DOCSYNC_GC_GRACE_HOURS \(--gc-grace-hours\) must be a whole number from 1/);
    expect(() => loadConfig({ DOCSYNC_GC_INTERVAL_HOURS: '-1' }, {}, cwd)).toThrow(/DOCSYNC_GC_INTERVAL_HOURS/);
    expect(() => loadConfig({ DOCSYNC_HISTORY_DAYS: 'month' }, {}, cwd)).toThrow(/DOCSYNC_HISTORY_DAYS/);
  });

  it('rejects fractional and padded numbers rather than guessing', () => {
    expect(() => loadConfig({ PORT: '80.5' }, {}, cwd)).toThrow(ConfigError);
    expect(() => loadConfig({ DOCSYNC_SYNC_INTERVAL: '1e3' }, {}, cwd)).toThrow(ConfigError);
    expect(loadConfig({ DOCSYNC_SYNC_INTERVAL: '0' }, {}, cwd).syncIntervalSeconds).toBe(0);
  });

  it('keeps history for DOCSYNC_HISTORY_DAYS days: 30 by default, 1 to 3650', () => {
    expect(loadConfig({}, {}, cwd).historyDays).toBe(30);
    expect(loadConfig({ DOCSYNC_HISTORY_DAYS: '90' }, {}, cwd).historyDays).toBe(90);
    expect(loadConfig({ DOCSYNC_HISTORY_DAYS: '90' }, { historyDays: '7' }, cwd).historyDays).toBe(7);
    for (const bad of ['0', '-1', '3651', '1.5', 'month']) {
      expect(() => loadConfig({ DOCSYNC_HISTORY_DAYS: bad }, {}, cwd), bad).toThrow(
        /DOCSYNC_HISTORY_DAYS \(--history-days\) must be a whole number from 1 to 3650/,
      );
    }
  });

  it('defaults to a shared folder beside the data dir, and runs standalone with none', () => {
    expect(loadConfig({ DOCSYNC_DATA_DIR: '/srv/docsync/data2' }, {}, cwd).remote).toEqual({ kind: 'folder', path: '/srv/docsync/remote' });
    expect(loadConfig({ DOCSYNC_REMOTE: 'none' }, {}, cwd).remote).toEqual({ kind: 'none' });
  });

  it('parses a shared folder remote', () => {
    expect(loadConfig({ DOCSYNC_REMOTE: 'file:///mnt/nas/docsync' }, {}, cwd).remote).toEqual({ kind: 'folder', path: '/mnt/nas/docsync' });
    expect(loadConfig({ DOCSYNC_REMOTE: 'file://./remote' }, {}, cwd).remote).toEqual({ kind: 'folder', path: path.join(cwd, 'remote') });
    expect(() => loadConfig({ DOCSYNC_REMOTE: 's3://bucket' }, {}, cwd)).toThrow(/DOCSYNC_REMOTE .* must be 'none' or a file:\/\/ URL/);
  });

  it('prefers a WebDAV URL over the folder remote and never shows its password', () => {
    const config = loadConfig(
      { WEBDAV_BASE_URL: 'https://cloud.example/remote.php/dav/files/ada/', WEBDAV_USERNAME: 'ada', WEBDAV_PASSWORD: 's3cret-app-pw', DOCSYNC_REMOTE: 'file:///x' },
      {},
      cwd,
    );
    expect(config.remote).toEqual({
      kind: 'webdav',
      baseUrl: 'https://cloud.example/remote.php/dav/files/ada',
      username: 'ada',
      password: 's3cret-app-pw',
      remoteRoot: '/docsync',
    });
    expect(describeRemote(config.remote)).toBe('https://cloud.example/remote.php/dav/files/ada/docsync (user ada)');
    expect(describeRemote(config.remote)).not.toContain('s3cret');
  });

  it('refuses credentials inside the WebDAV URL and non-http schemes', () => {
    expect(() => loadConfig({ WEBDAV_BASE_URL: 'https://ada:pw@cloud.example/dav' }, {}, cwd)).toThrow(/must not contain credentials/);
    expect(() => loadConfig({ WEBDAV_BASE_URL: 'ftp://cloud.example/dav' }, {}, cwd)).toThrow(/http:\/\/ or https:\/\//);
    expect(() => loadConfig({ WEBDAV_BASE_URL: 'not a url' }, {}, cwd)).toThrow(/is not a URL/);
    expect(() => loadConfig({ WEBDAV_BASE_URL: 'http://h/dav', WEBDAV_REMOTE_ROOT: 'docsync' }, {}, cwd)).toThrow(/must start with '\/'/);
  });

  it('requires an admin password of at least 8 characters when one is given', () => {
    expect(() => loadConfig({ DOCSYNC_ADMIN_PASSWORD: 'short' }, {}, cwd)).toThrow(/DOCSYNC_ADMIN_PASSWORD .* at least 8/);
    expect(loadConfig({ DOCSYNC_ADMIN_PASSWORD: 'long enough' }, {}, cwd).adminPassword).toBe('long enough');
  });
});
