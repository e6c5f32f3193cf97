/**
 * Starts real WebDAV servers (Apache mod_dav_fs, nginx dav-ext, rclone, lighttpd mod_webdav, sabre/dav
 * under `php -S`) on loopback for tests.
 * Install them with scripts/install-system-deps.sh. Every server gets a free port and its own
 * temp dir (config, pid file, logs, lock db, served data) and is served at http://127.0.0.1:PORT/dav.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type WebDavServerKind = 'apache' | 'nginx' | 'rclone' | 'lighttpd' | 'sabre';

export interface WebDavTestServer {
  kind: WebDavServerKind;
  /** e.g. http://127.0.0.1:PORT/dav (no trailing slash) */
  baseUrl: string;
  username: string;
  password: string;
  /** The directory the server serves. Apache started as root runs its workers as www-data:
   *  folders a test creates in here must be chowned to www-data before Apache can write into them. */
  rootDir: string;
  /** PID of the server's main process, which leads its own process group (workers included). */
  pid: number;
  stop(): Promise<void>;
}

const ALL_KINDS: WebDavServerKind[] = ['apache', 'nginx', 'rclone', 'lighttpd', 'sabre'];
const BASE_PATH = '/dav';
const USERNAME = 'docsync';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const NGINX_DAV_EXT = '/usr/lib/nginx/modules/ngx_http_dav_ext_module.so';
const LIGHTTPD_WEBDAV = '/usr/lib/lighttpd/mod_webdav.so';
/** Debian's php-sabre-dav (the 1.8 line); its PHP needs the sqlite3 and xml extensions too. */
const SABRE_AUTOLOAD = '/usr/share/php/Sabre/autoload.php';
const APACHE_MODULES = ['mpm_event', 'authz_core', 'authn_core', 'authn_file', 'auth_basic',
  'authz_user', 'mime', 'dav', 'dav_fs'];
const isRoot = process.getuid?.() === 0;

/** Absolute path of an executable, also looking in the sbin dirs that a non-root PATH lacks. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, name);
    try { fs.accessSync(candidate, fs.constants.X_OK); return candidate; } catch { /* next */ }
  }
  return undefined;
}

function missingParts(kind: WebDavServerKind): string[] {
  const needs: Record<WebDavServerKind, string[]> = {
    apache: ['apache2', 'htpasswd'], nginx: ['nginx', 'htpasswd'], rclone: ['rclone'],
    lighttpd: ['lighttpd'], sabre: ['php'] };
  const files: Partial<Record<WebDavServerKind, string[]>> = {
    nginx: [NGINX_DAV_EXT], lighttpd: [LIGHTTPD_WEBDAV], sabre: [SABRE_AUTOLOAD] };
  const missing = needs[kind].filter((bin) => !findBinary(bin));
  missing.push(...(files[kind] ?? []).filter((file) => !fs.existsSync(file)));
  if (kind === 'sabre' && missing.length === 0) missing.push(...missingPhpExtensions());
  return missing;
}

let phpExtensions: string[] | undefined;

/** sabre/dav needs PHP's xml (DOM, XMLWriter) and sqlite3 (PDO locks) extensions. */
function missingPhpExtensions(): string[] {
  phpExtensions ??= execFileSync(findBinary('php')!, ['-m'], { encoding: 'utf8' }).split('\n').map((m) => m.trim().toLowerCase());
  return ['dom', 'xmlwriter', 'pdo_sqlite', 'mbstring'].filter((ext) => !phpExtensions!.includes(ext)).map((ext) => `php-${ext}`);
}

export function availableServerKinds(): WebDavServerKind[] {
  return ALL_KINDS.filter((kind) => missingParts(kind).length === 0);
}

export function webDavKindsForTests(): WebDavServerKind[] {
  const available = availableServerKinds();
  const missing = ALL_KINDS.filter((kind) => !available.includes(kind));
  if (missing.length === 0) return available;
  const details = missing.map((kind) => `${kind} (missing ${missingParts(kind).join(', ')})`).join('; ');
  const banner = '!'.repeat(78);
  const message = `\n${banner}\n!!! WebDAV servers NOT TESTED: ${details}\n`
    + `!!! Install them with: scripts/install-system-deps.sh\n${banner}\n`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires every WebDAV server.${message}`);
  console.warn(message);
  return available;
}

// ---- process bookkeeping: nothing may outlive the test process ----

interface Running { child: ChildProcess; dir: string; exited: Promise<void> }
const running = new Set<Running>();
let cleanupInstalled = false;

/** Synchronous last resort (exit/signal handlers cannot await): kill whole process groups. */
function killAllSync(): void {
  for (const entry of running) {
    try { process.kill(-entry.child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    fs.rmSync(entry.dir, { recursive: true, force: true });
  }
  running.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllSync);
  // vitest's fork pool ends workers with SIGTERM, which skips 'exit' handlers.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync();
      // Keep the default "die on signal" behaviour unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// ---- per-server configuration ----

interface Setup { dir: string; dataDir: string; port: number; password: string; htpasswd: string }
interface Launch { command: string; args: string[]; env?: Record<string, string> }

function apacheLaunch(s: Setup): Launch {
  const mods = APACHE_MODULES.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`);
  const conf = [
    `ServerRoot "${s.dir}"`, 'ServerName 127.0.0.1', `Listen 127.0.0.1:${s.port}`,
    `PidFile "${s.dir}/server.pid"`, `ErrorLog "${s.dir}/error.log"`, 'LogLevel warn',
    `DefaultRuntimeDir "${s.dir}/run"`, ...mods,
    // Apache refuses to serve as root, so as root its workers run as www-data (dir is chowned).
    ...(isRoot ? ['User www-data', 'Group www-data'] : []),
    // One small child process instead of Debian's 3 x 25 threads: enough for tests, quicker start.
    'StartServers 1', 'ServerLimit 2', 'ThreadsPerChild 32', 'MaxRequestWorkers 64',
    'MinSpareThreads 1', 'MaxSpareThreads 64',
    'TypesConfig /etc/mime.types', `DocumentRoot "${path.dirname(s.dataDir)}"`,
    `DavLockDB "${s.dir}/lock/DavLock"`,
    '<Directory />', '  AllowOverride None', '  Require all denied', '</Directory>',
    `<Directory "${s.dataDir}">`, '  Dav On', '  AuthType Basic', '  AuthName docsync-test',
    '  AuthBasicProvider file', `  AuthUserFile "${s.htpasswd}"`, '  Require valid-user',
    // The default ETag (mtime+size) is weak for 1 s after a write, so If-Match fails right
    // after a write; a digest ETag is strong. Scoped to the small shared files: it hashes per GET.
    '  <FilesMatch "^(version\\.txt|metadata\\.db)$">', '    FileETag Digest', '  </FilesMatch>',
    '</Directory>',
    // Same for *.db under any metadata/ folder. A URL match: <DirectoryMatch "/metadata$">
    // measured as never matching here (Apache tests it against the file's path).
    `<LocationMatch "^${BASE_PATH}/(.+/)?metadata/[^/]+\\.db$">`, '  FileETag Digest', '</LocationMatch>',
  ];
  fs.mkdirSync(path.join(s.dir, 'run'), { recursive: true });
  fs.mkdirSync(path.join(s.dir, 'lock'), { recursive: true });
  fs.writeFileSync(path.join(s.dir, 'apache.conf'), conf.join('\n') + '\n');
  if (isRoot) execFileSync('chown', ['-R', 'www-data:www-data', s.dir]);
  // FOREGROUND: the server's main process is our child, so its PID is known and reaped by us.
  return { command: findBinary('apache2')!, args: ['-f', path.join(s.dir, 'apache.conf'), '-D', 'FOREGROUND'] };
}

function nginxLaunch(s: Setup): Launch {
  const temp = (name: string) => `${name}_temp_path ${s.dir}/nginx-${name};`;
  const conf = `load_module ${NGINX_DAV_EXT};
daemon off;  # the master stays our child: a PID we own and reap
worker_processes 1;
${isRoot ? 'user root root;  # default would be nobody, who cannot write the data dir' : ''}
pid ${s.dir}/server.pid;
error_log ${s.dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  # Own temp paths: the defaults under /var/lib/nginx are root-only, and PUT renames from here.
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  dav_ext_lock_zone zone=davlock:1m;
  server {
    listen 127.0.0.1:${s.port};
    root ${path.dirname(s.dataDir)};
    location ~ ^${BASE_PATH}(/|$) {  # also /dav itself, which PROPFIND clients may ask for
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS LOCK UNLOCK;
      dav_ext_lock zone=davlock;  # LOCK/UNLOCK need a lock zone
      create_full_put_path on;
      dav_access user:rw group:rw all:r;
      client_max_body_size 0;
      auth_basic docsync-test;
      auth_basic_user_file ${s.htpasswd};
    }
  }
}
`;
  fs.writeFileSync(path.join(s.dir, 'nginx.conf'), conf);
  // -e: nginx opens its compiled-in error log before reading the config; keep that in the temp dir too.
  return { command: findBinary('nginx')!,
    args: ['-e', `${s.dir}/error.log`, '-p', `${s.dir}/`, '-c', `${s.dir}/nginx.conf`] };
}

function rcloneLaunch(s: Setup): Launch {
  fs.writeFileSync(path.join(s.dir, 'rclone.conf'), ''); // else rclone warns about ~/.config
  return { command: findBinary('rclone')!, args: ['serve', 'webdav', s.dataDir,
    '--addr', `127.0.0.1:${s.port}`, '--baseurl', BASE_PATH, '--user', USERNAME, '--pass', s.password,
    '--config', `${s.dir}/rclone.conf`, '--cache-dir', `${s.dir}/rclone-cache`,
    // rclone caches directory listings for 5 min: files that tests write straight into rootDir
    // would stay invisible to PROPFIND.
    '--dir-cache-time', '0s', '--log-file', `${s.dir}/error.log`] };
}

function lighttpdLaunch(s: Setup): Launch {
  fs.mkdirSync(path.join(s.dir, 'upload'));
  // mod_authn_file's "plain" backend: one `user:password` line.
  fs.writeFileSync(path.join(s.dir, 'users'), `${USERNAME}:${s.password}\n`, { mode: 0o600 });
  const conf = `server.modules = ("mod_auth", "mod_authn_file", "mod_webdav")
server.bind = "127.0.0.1"
server.port = ${s.port}
server.document-root = "${path.dirname(s.dataDir)}"
server.errorlog = "${s.dir}/error.log"
server.upload-dirs = ("${s.dir}/upload")
server.max-request-size = 0
$HTTP["url"] =~ "^${BASE_PATH}($|/)" {
  webdav.activate = "enable"
  webdav.is-readonly = "disable"
  webdav.sqlite-db-name = "${s.dir}/webdav.db"
  auth.backend = "plain"
  auth.backend.plain.userfile = "${s.dir}/users"
  auth.require = ("" => ("method" => "basic", "realm" => "docsync-test", "require" => "valid-user"))
}
`;
  fs.writeFileSync(path.join(s.dir, 'lighttpd.conf'), conf);
  // -D: no daemon, the server stays our child.
  return { command: findBinary('lighttpd')!, args: ['-D', '-f', path.join(s.dir, 'lighttpd.conf')] };
}

/**
 * sabre/dav as Debian ships it (1.8): FSExt nodes (plain FS nodes send no ETag), the locks plugin
 * on a file backend, Basic auth against the test password, under PHP's built-in server (which
 * closes every connection after one response: no keep-alive).
 */
function sabreLaunch(s: Setup): Launch {
  const php = `<?php
require '${SABRE_AUTOLOAD}';
class DocsyncTestAuth extends Sabre\\DAV\\Auth\\Backend\\AbstractBasic {
  protected function validateUserPass($username, $password) {
    return $username === ${JSON.stringify(USERNAME)} && hash_equals(${JSON.stringify(s.password)}, $password);
  }
}
$server = new Sabre\\DAV\\Server(new Sabre\\DAV\\FSExt\\Directory(${JSON.stringify(s.dataDir)}));
$server->setBaseUri('${BASE_PATH}/');
$server->addPlugin(new Sabre\\DAV\\Auth\\Plugin(new DocsyncTestAuth(), 'docsync-test'));
$server->addPlugin(new Sabre\\DAV\\Locks\\Plugin(new Sabre\\DAV\\Locks\\Backend\\File(${JSON.stringify(`${s.dir}/locks`)})));
$server->exec();
`;
  fs.writeFileSync(path.join(s.dir, 'server.php'), php);
  return { command: findBinary('php')!, args: ['-S', `127.0.0.1:${s.port}`, path.join(s.dir, 'server.php')],
    env: { PHP_CLI_SERVER_WORKERS: '4' } };
}

const LAUNCHERS: Record<WebDavServerKind, (s: Setup) => Launch> = {
  apache: apacheLaunch, nginx: nginxLaunch, rclone: rcloneLaunch, lighttpd: lighttpdLaunch, sabre: sabreLaunch };

// ---- start / stop ----

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().unref().on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function readLogs(dir: string): string {
  return ['error.log', 'stdio.log'].map((name) => {
    try { return `--- ${name} ---\n${fs.readFileSync(path.join(dir, name), 'utf8')}`; } catch { return ''; }
  }).join('\n');
}

function authHeader(password: string): string {
  return `Basic ${Buffer.from(`${USERNAME}:${password}`).toString('base64')}`;
}

const ADDRESS_IN_USE = /address already in use/i;

/** One authenticated PROPFIND; resolves to the status or the error text. */
async function probe(url: string, password: string): Promise<number | string> {
  try {
    const res = await fetch(url, { method: 'PROPFIND', signal: AbortSignal.timeout(1000),
      headers: { Authorization: authHeader(password), Depth: '0' } });
    await res.arrayBuffer();
    return res.status;
  } catch (err) { return String(err); }
}

async function waitUntilReady(entry: Running, url: string, password: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: number | string = 'no answer';
  while (Date.now() < deadline) {
    // nginx retries a busy port for ~2.5 s before exiting: give up on it as soon as it logs that.
    if (ADDRESS_IN_USE.test(readLogs(entry.dir))) throw new Error('port already in use');
    // Whoever holds a busy port may accept and never answer: stop waiting when the server exits.
    last = await Promise.race([probe(url, password), entry.exited.then(() => 'exited')]);
    if (last === 207) return;
    if (last === 'exited') throw new Error('server process exited');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no 207 for PROPFIND within ${START_TIMEOUT_MS} ms (last: ${last})`);
}

async function waitForPortClosed(port: number, deadline: number): Promise<void> {
  const isOpen = () => new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  while (await isOpen()) {
    if (Date.now() > deadline) throw new Error(`port ${port} still open after stop()`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGTERM to the server's own PID, SIGKILL to its process group if it does not exit in time. */
async function terminate(entry: Running): Promise<void> {
  const { child } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } },
      STOP_TIMEOUT_MS);
    await entry.exited;
    clearTimeout(timer);
  }
  // Workers normally exit with their master; this only catches strays.
  try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* group gone */ }
  running.delete(entry);
}

function launch(kind: WebDavServerKind, setup: Setup): Running {
  const { command, args, env } = LAUNCHERS[kind](setup);
  return launchInDir(setup.dir, command, args, env);
}

/** A server process started by `launchTracked`: its PID leads its own process group. */
export interface TrackedProcess {
  pid: number;
  exited: Promise<void>;
  /** SIGTERM to its PID (SIGKILL to its group if it lingers); the temp dir stays for the caller. */
  stop(): Promise<void>;
}

/**
 * Starts another server (nginx as a TLS proxy, say) the way the WebDAV servers are started: its own
 * process group, stdout and stderr in `dir`/stdio.log, killed with the test process if forgotten.
 */
export function launchTracked(dir: string, command: string, args: string[]): TrackedProcess {
  installCleanup();
  const entry = launchInDir(dir, command, args);
  return { pid: entry.child.pid!, exited: entry.exited, stop: () => terminate(entry) };
}

function launchInDir(dir: string, command: string, args: string[], env?: Record<string, string>): Running {
  const log = fs.openSync(path.join(dir, 'stdio.log'), 'a');
  // detached: own process group, so one kill reaches nginx/Apache workers too; unref'd so a
  // forgotten server does not keep the test process alive (the exit handler kills it).
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log], ...(env && { env: { ...process.env, ...env } }) });
  fs.closeSync(log);
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const entry = { child, dir, exited };
  running.add(entry);
  return entry;
}

export async function startWebDavServer(kind: WebDavServerKind): Promise<WebDavTestServer> {
  const missing = missingParts(kind);
  if (missing.length > 0) throw new Error(`${kind}: missing ${missing.join(', ')}; run scripts/install-system-deps.sh`);
  installCleanup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `docsync-webdav-${kind}-`));
  const dataDir = path.join(dir, 'srv', BASE_PATH.slice(1));
  fs.mkdirSync(dataDir, { recursive: true });
  const password = randomBytes(12).toString('hex');
  const htpasswd = path.join(dir, 'htpasswd');
  if (kind === 'apache' || kind === 'nginx') execFileSync(findBinary('htpasswd')!, ['-bc', htpasswd, USERNAME, password], { stdio: 'ignore' });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}${BASE_PATH}`;
    const entry = launch(kind, { dir, dataDir, port, password, htpasswd });
    try {
      await waitUntilReady(entry, `${baseUrl}/`, password);
      return makeHandle(kind, entry, { baseUrl, port, password, dataDir });
    } catch (err) {
      await terminate(entry);
      const logs = readLogs(dir);
      // Another process may grab the probed port before the server binds it: try a new one.
      if (attempt < 3 && ADDRESS_IN_USE.test(logs)) {
        for (const log of ['error.log', 'stdio.log']) fs.rmSync(path.join(dir, log), { force: true });
        continue;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`${kind} WebDAV server did not start: ${(err as Error).message}\n${logs}`);
    }
  }
}

function makeHandle(kind: WebDavServerKind, entry: Running,
  info: { baseUrl: string; port: number; password: string; dataDir: string }): WebDavTestServer {
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await terminate(entry);
    await waitForPortClosed(info.port, Date.now() + STOP_TIMEOUT_MS);
    fs.rmSync(entry.dir, { recursive: true, force: true });
  };
  return {
    kind, baseUrl: info.baseUrl, username: USERNAME, password: info.password, rootDir: info.dataDir, pid: entry.child.pid!,
    stop: () => (stopping ??= stop()),
  };
}
