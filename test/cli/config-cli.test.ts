import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../support/instance.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
// By path: the CLI runs in the test's temp folder, where `--import tsx` would not resolve.
const TSX = path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const ADMIN_PASSWORD = 'a long enough password';
const SECRET = 'webdav-secret-never-shown';
/** Each test spawns the real CLI a few times: several seconds each on a loaded 2-core machine. */
const SPAWN_TIMEOUT = 120_000;

/** An environment without the test runner's DOCSYNC_* and WEBDAV_* variables: only what a test gives. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI in a child process, as an operator runs it. */
function docsync(args: string[], { cwd, env = {} }: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Served {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `docsync serve` in a child process, once it listens. */
function serve(args: string[], { cwd, env = {} }: { cwd: string; env?: Record<string, string> }): Promise<Served> {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve', ...args], { cwd, env: cleanEnv({ PORT: '0', ...env }) });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`serve did not start: ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const listening = /docsync listening on (http:\/\/\S+)/.exec(stderr);
      if (listening) {
        clearTimeout(timer);
        resolve({ url: listening[1]!, child, stop });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
}

describe('docsync init and the data dir that serve makes', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it('init writes an owner-only config file with the data dir, the remote and the port set, the rest commented; never a secret', async () => {
    const run = await docsync(
      ['init', '--data-dir', 'store', '--port', '9123', '--webdav-url', 'https://cloud.example/dav', '--webdav-username', 'ada', '--lock-ttl', '90'],
      { cwd: tmp.dir, env: { WEBDAV_PASSWORD: SECRET } },
    );
    expect(run.code, run.stderr).toBe(0);
    const file = path.join(tmp.dir, 'store', 'docsync.toml');
    expect(run.stdout).toContain(`Wrote ${file} (data dir ${path.join(tmp.dir, 'store')}, remote https://cloud.example/dav/docsync (user ada))`);
    expect(run.stdout).toContain('WEBDAV_PASSWORD is not written to the file');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(SECRET);
    const set = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(set).toEqual([
      'data_dir = "."',
      'port = 9123',
      'host = "127.0.0.1"',
      'webdav_url = "https://cloud.example/dav"',
      'webdav_username = "ada"',
      'webdav_root = "/docsync"',
      'lock_ttl = 90',
    ]);
    expect(text).toContain('\n# webdav_password_file = "/etc/docsync/secret-only-you-can-read"\n');
    expect(text).toContain('\n# sync_interval = 300\n');

    const again = await docsync(['init', '--data-dir', 'store'], { cwd: tmp.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${file} exists already: edit it, or remove it to write a new one`);
  }, SPAWN_TIMEOUT);

  it('init with --config writes that file, naming the data dir by its absolute path; a secret file is named, not copied', async () => {
    const secretFile = path.join(tmp.dir, 'pw');
    fs.writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const run = await docsync(['init', '--config', 'etc/docsync.toml', '--data-dir', 'var/docsync', '--webdav-url', 'http://127.0.0.1:1/dav', '--webdav-password-file', 'pw'], {
      cwd: tmp.dir,
    });
    expect(run.code, run.stderr).toBe(0);
    const file = path.join(tmp.dir, 'etc', 'docsync.toml');
    expect(run.stdout).toContain(`Start the server with: docsync serve --config ${file}`);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain(`\ndata_dir = "${path.join(tmp.dir, 'var', 'docsync')}"\n`);
    expect(text).toContain(`\nwebdav_password_file = "${secretFile}"\n`);
    expect(text).not.toContain(SECRET);
    expect(fs.statSync(path.join(tmp.dir, 'var', 'docsync')).isDirectory()).toBe(true);
  }, SPAWN_TIMEOUT);

  it('serve refuses a named data dir that does not exist (exit 2, nothing made); --init makes it', async () => {
    const refused = await docsync(['serve', '--data-dir', 'mistyped'], { cwd: tmp.dir, env: { DOCSYNC_REMOTE: 'none', PORT: '0' } });
    expect(refused.code).toBe(2);
    const absolute = path.join(tmp.dir, 'mistyped');
    expect(refused.stderr).toContain(`The data dir ${absolute} does not exist`);
    expect(refused.stderr).toContain(`'docsync init --data-dir ${absolute}'`);
    expect(fs.existsSync(absolute)).toBe(false);
    // The same through the environment, as a service unit would set it.
    expect((await docsync(['serve'], { cwd: tmp.dir, env: { DOCSYNC_DATA_DIR: absolute, DOCSYNC_REMOTE: 'none', PORT: '0' } })).code).toBe(2);
    expect(fs.existsSync(absolute)).toBe(false);

    const server = await serve(['--init', '--data-dir', 'fresh'], { cwd: tmp.dir, env: { DOCSYNC_REMOTE: 'none', DOCSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    await server.stop();
    expect(fs.existsSync(path.join(tmp.dir, 'fresh', 'docsync.db'))).toBe(true);
  }, SPAWN_TIMEOUT);

  it('a command run without the settings of the server (started from the environment) warns that the server uses another remote', async () => {
    const shared = path.join(tmp.dir, 'nas');
    fs.mkdirSync(shared);
    const serverEnv = { DOCSYNC_REMOTE: `file://${shared}`, DOCSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const server = await serve(['--init', '--data-dir', 'data2'], { cwd: tmp.dir, env: serverEnv });
    await server.stop();
    const without = await docsync(['--data-dir', 'data2', 'status', '--json'], { cwd: tmp.dir });
    expect(without.code, without.stderr).toBe(0);
    expect(JSON.parse(without.stdout).remote).toBe(`file://${path.join(tmp.dir, 'remote')}`);
    expect(without.stderr).toBe(
      `warning: the server of this data dir uses the remote file://${shared}, but this command uses file://${path.join(tmp.dir, 'remote')}: ` +
        "give it the server's settings (the same --config or environment; 'docsync init' writes them to a config file both read)\n",
    );
    const withEnv = await docsync(['--data-dir', 'data2', 'status', '--json'], { cwd: tmp.dir, env: { DOCSYNC_REMOTE: `file://${shared}` } });
    expect(withEnv.stderr).toBe('');
  }, SPAWN_TIMEOUT);

  it('serve on the embedded defaults makes ./data on a fresh machine (`npm start`)', async () => {
    const server = await serve([], { cwd: tmp.dir, env: { DOCSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    try {
      expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(path.join(tmp.dir, 'data', 'docsync.db'))).toBe(true);
  }, SPAWN_TIMEOUT);
});

type RemoteSetup = { name: string; webdav?: boolean; initFlags: (tmp: string) => string[] };

const remotes: RemoteSetup[] = [
  // A shared folder that is not the default one beside the data dir.
  {
    name: 'a shared folder',
    initFlags: (tmp) => {
      fs.mkdirSync(path.join(tmp, 'nas', 'docsync'), { recursive: true });
      return ['--remote', `file://${path.join(tmp, 'nas', 'docsync')}`];
    },
  },
];
let webdavServer: WebDavTestServer | undefined;
const webdavKinds = webDavKindsForTests().filter((kind) => kind === 'apache');
for (const kind of webdavKinds) {
  remotes.push({
    name: `WebDAV (${kind}), the password in a file named by the config`,
    webdav: true,
    initFlags: (tmp) => {
      const secretFile = path.join(tmp, 'webdav-password');
      fs.writeFileSync(secretFile, `${webdavServer!.password}\n`, { mode: 0o600 });
      return ['--webdav-url', webdavServer!.baseUrl, '--webdav-username', webdavServer!.username, '--webdav-password-file', secretFile,
        '--webdav-root', `/config-test-${path.basename(tmp)}`];
    },
  });
}

describe.each(remotes)('the server and the CLI see the same remote: $name', ({ webdav, initFlags }) => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    if (webdav) webdavServer = await startWebDavServer(webdavKinds[0]!);
  }, 30_000);
  afterAll(async () => {
    await webdavServer?.stop();
    webdavServer = undefined;
  });
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it('serve --config and then status with only --config, or only the data dir, report the server remote and its version', async () => {
    const dataDir = path.join(tmp.dir, 'data');
    const init = await docsync(['init', '--data-dir', dataDir, '--port', '0', '--sync-interval', '0', ...initFlags(tmp.dir)], { cwd: tmp.dir });
    expect(init.code, init.stderr).toBe(0);
    const configFile = path.join(dataDir, 'docsync.toml');

    // The server gets nothing from the environment but its first admin password.
    const server = await serve(['--config', configFile], { cwd: '/', env: { DOCSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    try {
      const login = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      const auth = { 'x-session-id': ((await login.json()) as { sessionId: string }).sessionId };
      const form = new FormData();
      form.append('file', new Blob(['shared through the configured remote']), 'paper.txt');
      expect((await fetch(`${server.url}/api/v1/files`, { method: 'POST', headers: auth, body: form })).status).toBe(201);
      const sync = (await (await fetch(`${server.url}/api/v1/sync`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).json()) as {
        uploaded: number;
        new_version: number;
      };
      expect(sync).toMatchObject({ uploaded: 1, new_version: 1 });
      const served = (await (await fetch(`${server.url}/api/v1/sync/status`, { headers: auth })).json()) as { remote: string; remote_version: number };
      expect(served.remote_version).toBe(1);

      // While the server runs, from another folder, without the server's environment.
      for (const how of [['--config', configFile], ['--data-dir', dataDir]]) {
        const status = await docsync([...how, 'status', '--json'], { cwd: tmp.dir });
        expect(status.code, status.stderr).toBe(0);
        expect(JSON.parse(status.stdout), how.join(' ')).toMatchObject({ remote: served.remote, remote_version: 1, remote_error: null, unsynced_count: 0 });
        expect(status.stderr).not.toContain('warning');
      }
      const byEnv = await docsync(['status', '--json'], { cwd: '/', env: { DOCSYNC_DATA_DIR: dataDir } });
      expect(JSON.parse(byEnv.stdout)).toMatchObject({ remote: served.remote, remote_version: 1 });
    } finally {
      await server.stop();
    }
  }, SPAWN_TIMEOUT);
});
