import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIG_FILE_NAME, othersMay, readConfigFile, readSecretFile, type ConfigFile } from './config-file.ts';
import { ConfigError } from './errors.ts';

/** Names the config file, like `--config`. */
export const CONFIG_ENV = 'DOCSYNC_CONFIG';

/** Where instances meet (docs/design.md#remote-layout-format-2). The sync engine that uses it arrives with the remote tier. */
export type RemoteConfig =
  | { kind: 'none' }
  | { kind: 'folder'; path: string }
  | { kind: 'webdav'; baseUrl: string; username: string | undefined; password: string | undefined; remoteRoot: string };

export interface Config {
  dataDir: string;
  port: number;
  host: string;
  remote: RemoteConfig;
  /** Password for the `admin` user made on first start; generated and printed once when absent. */
  adminPassword: string | undefined;
  syncIntervalSeconds: number;
  /** Seconds between the background status checks that tell open pages of a new remote version (0 = off). */
  statusIntervalSeconds: number;
  transferWorkers: number;
  lockTtlSeconds: number;
  lockWaitSeconds: number;
  maxDeletePercent: number;
  maxUploadBytes: number;
  /** The largest metadata snapshot a sync downloads (a bigger one is refused, never written whole). */
  maxSnapshotBytes: number;
  sessionTtlHours: number;
  sseKeepAliveSeconds: number;
  /** History window (docs/design.md#history-trash-and-garbage-collection): snapshots, journals and the blobs their rows name are kept this long. */
  historyDays: number;
  /** A blob younger than this is never collected (an upload of a sync in flight). */
  gcGraceHours: number;
  /** Remote GC runs at most once per this many hours, after a commit. */
  gcIntervalHours: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Fastify's `trustProxy`: which reverse proxies may set X-Forwarded-For/-Proto/-Host (false: none). */
  trustProxy: boolean | string[];
  /** The config file read, if any (shown at start, so an operator sees which one counted). */
  configFile: string | undefined;
  /** No flag, variable or config file is in play for the data dir: `serve` may make the default one on a fresh machine. */
  dataDirIsDefault: boolean;
  /** `pretty` for people, `json` for collectors; `auto`: pretty when stdout is a terminal. */
  logFormat: 'auto' | 'pretty' | 'json';
  /** A bearer token that may read `/metrics` and nothing else; unset: a session or API token is needed. */
  metricsToken: string | undefined;
}

/**
 * Raw values by option name, from CLI flags (which win over the environment and the config file).
 * For a secret option the flag names the file holding it (`--webdav-password-file`): a secret on
 * the command line would show in `ps`. `config` is the config file (`--config`).
 */
export type ConfigFlags = Partial<Record<OptionName | 'config', string | undefined>>;

interface OptionSpec {
  env: string;
  /**
   * Long CLI flag of `docsync serve` (and the global flags of other commands); its snake_case form
   * is the key in the config file (`webdav-url` → `webdav_url`).
   */
  flag: string;
  help: string;
  default?: string;
  /**
   * Read only from the environment, from a file readable by its owner alone (`<env>_FILE`,
   * `<key>_file`, `--<flag>-file`), or from a config file readable by its owner alone.
   */
  secret?: boolean;
}

/** Every option docsync reads, in one table: the README's configuration table mirrors it. */
export const OPTIONS = {
  dataDir: { env: 'DOCSYNC_DATA_DIR', flag: 'data-dir', help: 'local database and blobs', default: './data' },
  port: { env: 'PORT', flag: 'port', help: 'HTTP port', default: '8080' },
  host: { env: 'HOST', flag: 'host', help: 'HTTP listen address', default: '127.0.0.1' },
  remote: {
    env: 'DOCSYNC_REMOTE',
    flag: 'remote',
    help: 'shared folder remote `file:///path`, or `none` to run standalone (used when no WebDAV URL is set); default: a folder `remote` beside the data dir',
  },
  webdavBaseUrl: { env: 'WEBDAV_BASE_URL', flag: 'webdav-url', help: 'WebDAV server URL' },
  webdavUsername: { env: 'WEBDAV_USERNAME', flag: 'webdav-username', help: 'WebDAV user' },
  webdavPassword: { env: 'WEBDAV_PASSWORD', flag: 'webdav-password', help: 'WebDAV password', secret: true },
  webdavRemoteRoot: { env: 'WEBDAV_REMOTE_ROOT', flag: 'webdav-root', help: 'folder on the WebDAV server', default: '/docsync' },
  adminPassword: {
    env: 'DOCSYNC_ADMIN_PASSWORD',
    flag: 'admin-password',
    help: 'password of the `admin` user made on first start (generated and printed once if unset)',
    secret: true,
  },
  syncInterval: { env: 'DOCSYNC_SYNC_INTERVAL', flag: 'sync-interval', help: 'seconds between background syncs; 0 = off', default: '300' },
  statusInterval: {
    env: 'DOCSYNC_STATUS_INTERVAL',
    flag: 'status-interval',
    help: 'seconds between checks of the remote version while a page is open (one small request each); 0 = off',
    default: '60',
  },
  transferWorkers: { env: 'DOCSYNC_TRANSFER_WORKERS', flag: 'transfer-workers', help: 'parallel blob transfers', default: '4' },
  lockTtl: { env: 'DOCSYNC_LOCK_TTL', flag: 'lock-ttl', help: 'remote lock expiry (seconds)', default: '60' },
  lockWait: { env: 'DOCSYNC_LOCK_WAIT', flag: 'lock-wait', help: 'how long to wait for the remote lock (seconds)', default: '300' },
  maxDeletePercent: {
    env: 'DOCSYNC_MAX_DELETE_PERCENT',
    flag: 'max-delete-percent',
    help: 'mass-delete guard: a sync deleting more than this share of local files needs force',
    default: '50',
  },
  maxUploadMb: { env: 'DOCSYNC_MAX_UPLOAD_MB', flag: 'max-upload-mb', help: 'larger uploads get 413', default: '200' },
  maxSnapshotMb: { env: 'DOCSYNC_MAX_SNAPSHOT_MB', flag: 'max-snapshot-mb', help: 'largest remote metadata snapshot downloaded', default: '1024' },
  sseKeepAlive: { env: 'DOCSYNC_SSE_KEEPALIVE', flag: 'sse-keepalive', help: 'seconds between SSE keep-alive comments', default: '30' },
  sessionTtlHours: { env: 'DOCSYNC_SESSION_TTL_HOURS', flag: 'session-ttl-hours', help: 'login session lifetime (hours)', default: '168' },
  historyDays: {
    env: 'DOCSYNC_HISTORY_DAYS',
    flag: 'history-days',
    help: 'days that file versions, deleted files and the blobs they name are kept, listable and restorable',
    default: '30',
  },
  gcGraceHours: {
    env: 'DOCSYNC_GC_GRACE_HOURS',
    flag: 'gc-grace-hours',
    help: 'hours a blob no row names is kept before garbage collection may delete it',
    default: '24',
  },
  gcIntervalHours: {
    env: 'DOCSYNC_GC_INTERVAL_HOURS',
    flag: 'gc-interval-hours',
    help: 'hours between automatic remote garbage collections; 0 = only by `docsync gc`',
    default: '24',
  },
  trustProxy: {
    env: 'DOCSYNC_TRUST_PROXY',
    flag: 'trust-proxy',
    help: 'behind a reverse proxy: `true`, or the addresses/CIDR ranges it connects from (e.g. `127.0.0.1`); its X-Forwarded-Proto/-For then count',
    default: 'false',
  },
  logLevel: { env: 'DOCSYNC_LOG_LEVEL', flag: 'log-level', help: 'fatal|error|warn|info|debug|trace|silent', default: 'info' },
  logFormat: { env: 'DOCSYNC_LOG_FORMAT', flag: 'log-format', help: 'auto|pretty|json: auto is pretty on a terminal, JSON otherwise', default: 'auto' },
  metricsToken: { env: 'DOCSYNC_METRICS_TOKEN', flag: 'metrics-token', help: 'bearer token that may read /metrics (and nothing else)', secret: true },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS: readonly Config['logFormat'][] = ['auto', 'pretty', 'json'];

/** The key of an option in the config file. */
export function fileKey(name: OptionName): string {
  return OPTIONS[name].flag.replace(/-/g, '_');
}

/** The CLI flag of an option; a secret's flag names the file holding it. */
export function cliFlag(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  return spec.secret ? `${spec.flag}-file` : spec.flag;
}

/** A raw value and where it came from: relative paths resolve against `base`, messages name `where`. */
interface RawValue {
  value: string;
  source: 'flag' | 'env' | 'file' | 'default';
  base: string;
  where: string;
}

/**
 * Parses and validates the configuration once: flags win over the environment, the environment
 * over the config file, the file over the defaults. Every problem is collected, so a person fixing
 * their setup sees all of them at once. Relative paths resolve against `cwd`, or in the config file
 * against the file's folder. `readConfigFile: false` (`docsync init`) ignores any config file.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: ConfigFlags = {},
  cwd: string = process.cwd(),
  options: { readConfigFile?: boolean } = {},
): Config {
  const problems: string[] = [];
  const found = options.readConfigFile === false ? {} : findConfigFile(env, flags, cwd, problems);
  const file = found.file;
  if (file) checkFileKeys(file, problems);
  const whereEnv = (name: OptionName): string => `${OPTIONS[name].env} (--${cliFlag(name)})`;
  const lookup = (name: OptionName): RawValue | undefined => {
    const spec: OptionSpec = OPTIONS[name];
    const fromFlag = flags[name];
    if (fromFlag !== undefined) return { value: fromFlag, source: 'flag', base: cwd, where: whereEnv(name) };
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: 'env', base: cwd, where: whereEnv(name) };
    const inFile = file?.values.get(fileKey(name));
    if (file && inFile) return { value: inFile.value, source: 'file', base: file.dir, where: `${fileKey(name)} (${file.path}:${inFile.line})` };
    return spec.default === undefined ? undefined : { value: spec.default, source: 'default', base: cwd, where: whereEnv(name) };
  };
  const raw = (name: OptionName): string | undefined => lookup(name)?.value;
  const where = (name: OptionName): string => lookup(name)?.where ?? whereEnv(name);
  const secret = (name: OptionName): string | undefined => readSecret(name, { env, flags, cwd, file, problems });
  const int = (name: OptionName, min: number, max: number): number => {
    const value = raw(name) ?? '';
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${where(name)} must be a whole number from ${min} to ${max}, got '${value}'`);
      return min;
    }
    return n;
  };

  const dataDirValue = lookup('dataDir')!;
  const dataDir = path.resolve(dataDirValue.base, dataDirValue.value);
  const dataDirInFile = file?.values.get(fileKey('dataDir'));
  if (file && dataDirInFile && found.foundIn !== undefined && path.resolve(file.dir, dataDirInFile.value) !== found.foundIn) {
    // Found in one data dir, naming another: which one is meant cannot be guessed.
    problems.push(`${file.path}:${dataDirInFile.line}: data_dir names another folder than the data dir the file is in: remove data_dir, or name the file with --config`);
  }
  const logLevel = raw('logLevel') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`${where('logLevel')} must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }
  const logFormat = raw('logFormat') ?? 'auto';
  if (!LOG_FORMATS.includes(logFormat as Config['logFormat'])) {
    problems.push(`${where('logFormat')} must be one of ${LOG_FORMATS.join(', ')}, got '${logFormat}'`);
  }
  const metricsToken = raw('metricsToken');
  if (metricsToken !== undefined && metricsToken.length < 16) problems.push(`${where('metricsToken')} must be at least 16 characters`);
  const host = raw('host') ?? '127.0.0.1';
  if (host.trim() === '') problems.push(`${where('host')} must not be empty`);

  // Read even when no WebDAV URL is set, so that a bad secret file is reported at once.
  const webdavPassword = secret('webdavPassword');
  const config: Config = {
    dataDir,
    port: int('port', 0, 65535),
    host,
    remote: parseRemote(lookup, where, problems, dataDir, webdavPassword),
    adminPassword: secret('adminPassword'),
    syncIntervalSeconds: int('syncInterval', 0, 7 * 24 * 3600),
    statusIntervalSeconds: int('statusInterval', 0, 24 * 3600),
    transferWorkers: int('transferWorkers', 1, 64),
    lockTtlSeconds: int('lockTtl', 5, 24 * 3600),
    lockWaitSeconds: int('lockWait', 0, 24 * 3600),
    maxDeletePercent: int('maxDeletePercent', 0, 100),
    maxUploadBytes: int('maxUploadMb', 1, 1024 * 1024) * 1024 * 1024,
    maxSnapshotBytes: int('maxSnapshotMb', 1, 1024 * 1024) * 1024 * 1024,
    sessionTtlHours: int('sessionTtlHours', 1, 24 * 365),
    sseKeepAliveSeconds: int('sseKeepAlive', 1, 3600),
    historyDays: int('historyDays', 1, 10 * 365),
    gcGraceHours: int('gcGraceHours', 1, 365 * 24),
    gcIntervalHours: int('gcIntervalHours', 0, 365 * 24),
    logLevel: logLevel as Config['logLevel'],
    trustProxy: parseTrustProxy(raw('trustProxy') ?? 'false', where('trustProxy'), problems),
    configFile: file?.path,
    // With a config file in use, even the default data dir is not made silently: the file names it or --init does.
    dataDirIsDefault: dataDirValue.source === 'default' && !file,
    logFormat: logFormat as Config['logFormat'],
    metricsToken,
  };
  if (config.adminPassword !== undefined && config.adminPassword.length < 8) {
    problems.push(`${where('adminPassword')} must be at least 8 characters`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The config file: the one named by `--config` / `DOCSYNC_CONFIG` (which must exist), else
 * `docsync.toml` in the data dir named by the flag, the environment or the default, if there is one.
 */
function findConfigFile(env: NodeJS.ProcessEnv, flags: ConfigFlags, cwd: string, problems: string[]): { file?: ConfigFile; foundIn?: string } {
  const named = flags.config ?? (env[CONFIG_ENV] || undefined);
  if (named !== undefined) {
    const file = path.resolve(cwd, named);
    const before = problems.length;
    const read = readConfigFile(file, problems);
    if (!read && problems.length === before) problems.push(`The config file ${file} (--config or ${CONFIG_ENV}) does not exist`);
    return { file: read };
  }
  const dataDir = path.resolve(cwd, flags.dataDir ?? (env[OPTIONS.dataDir.env] || OPTIONS.dataDir.default));
  const read = readConfigFile(path.join(dataDir, CONFIG_FILE_NAME), problems);
  return read ? { file: read, foundIn: dataDir } : {};
}

/** Unknown keys are refused (a typo must not be silently ignored), and so is a secret others may read. */
function checkFileKeys(file: ConfigFile, problems: string[]): void {
  const known = new Map<string, OptionName>();
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    known.set(fileKey(name), name);
    if ((OPTIONS[name] as OptionSpec).secret) known.set(`${fileKey(name)}_file`, name);
  }
  for (const [key, { line }] of file.values) {
    const name = known.get(key);
    if (name === undefined) {
      problems.push(`${file.path}:${line}: unknown setting '${key}'`);
    } else if ((OPTIONS[name] as OptionSpec).secret && key === fileKey(name) && !file.ownerOnly) {
      problems.push(
        `${file.path} holds the secret ${key} but ${othersMay(file.mode)}: run 'chmod 600 ${file.path}', ` +
          `or move the secret to ${OPTIONS[name].env} or to a file of its own named by ${key}_file`,
      );
    }
  }
}

/**
 * A secret, from (first found) `--<flag>-file`, the environment (`WEBDAV_PASSWORD`, or
 * `WEBDAV_PASSWORD_FILE`), the config file (`webdav_password_file`, or `webdav_password` in a file
 * only its owner can read). Never from a flag's value: that would show in `ps`.
 */
function readSecret(
  name: OptionName,
  { env, flags, cwd, file, problems }: { env: NodeJS.ProcessEnv; flags: ConfigFlags; cwd: string; file: ConfigFile | undefined; problems: string[] },
): string | undefined {
  const spec: OptionSpec = OPTIONS[name];
  const fromFlag = flags[name];
  if (fromFlag !== undefined) return readSecretFile(path.resolve(cwd, fromFlag), `--${cliFlag(name)}`, problems);
  const inEnv = env[spec.env] || undefined;
  const envFile = env[`${spec.env}_FILE`] || undefined;
  if (inEnv !== undefined && envFile !== undefined) {
    problems.push(`Set ${spec.env} or ${spec.env}_FILE, not both`);
    return undefined;
  }
  if (inEnv !== undefined) return inEnv;
  if (envFile !== undefined) return readSecretFile(path.resolve(cwd, envFile), `${spec.env}_FILE`, problems);
  const key = fileKey(name);
  const inline = file?.values.get(key);
  const indirect = file?.values.get(`${key}_file`);
  if (!file || (inline === undefined && indirect === undefined)) return undefined;
  if (inline && indirect) {
    problems.push(`${file.path}: set ${key} or ${key}_file, not both`);
    return undefined;
  }
  if (indirect) return readSecretFile(path.resolve(file.dir, indirect.value), `${key}_file (${file.path}:${indirect.line})`, problems);
  // checkFileKeys has refused it already when others may read the file.
  return file.ownerOnly ? inline!.value : undefined;
}

function parseRemote(
  lookup: (name: OptionName) => RawValue | undefined,
  where: (name: OptionName) => string,
  problems: string[],
  dataDir: string,
  password: string | undefined,
): RemoteConfig {
  const raw = (name: OptionName): string | undefined => lookup(name)?.value;
  const baseUrl = raw('webdavBaseUrl');
  if (baseUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(baseUrl);
    } catch {
      problems.push(`${where('webdavBaseUrl')} is not a URL: '${baseUrl}'`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${where('webdavBaseUrl')} must be an http:// or https:// URL, got '${url.protocol}'`);
    }
    if (url && (url.username !== '' || url.password !== '')) {
      // A password inside the URL would end up in logs and status output.
      problems.push(`${where('webdavBaseUrl')} must not contain credentials: use WEBDAV_USERNAME and WEBDAV_PASSWORD`);
    }
    const remoteRoot = raw('webdavRemoteRoot') ?? '/docsync';
    if (!remoteRoot.startsWith('/')) problems.push(`${where('webdavRemoteRoot')} must start with '/', got '${remoteRoot}'`);
    return {
      kind: 'webdav',
      baseUrl: baseUrl.replace(/\/+$/, ''),
      username: raw('webdavUsername'),
      password,
      remoteRoot,
    };
  }
  const remoteValue = lookup('remote');
  const remote = remoteValue?.value;
  // The embedded default: a shared folder beside the data dir, so that a second instance started
  // with another data dir in the same parent folder syncs with the first at once.
  if (remote === undefined) return { kind: 'folder', path: path.join(path.dirname(dataDir), 'remote') };
  if (remote === 'none') return { kind: 'none' };
  if (remote.startsWith('file://')) {
    try {
      return { kind: 'folder', path: fileURLToPath(remote) };
    } catch {
      // `file://./remote` is not a valid file URL, but people write it: resolve it relative to cwd.
      // In the config file, relative to the file's folder.
      return { kind: 'folder', path: path.resolve(remoteValue!.base, remote.slice('file://'.length)) };
    }
  }
  problems.push(`${where('remote')} must be 'none' or a file:// URL, got '${remote}'`);
  return { kind: 'none' };
}

/** Names proxy-addr (behind Fastify's `trustProxy`) knows besides addresses and CIDR ranges. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `false`, `true` (every hop: only when nothing but the proxy can reach docsync), or the addresses the
 * proxy connects from. With a list, a client's own X-Forwarded-For entries are never believed.
 */
function parseTrustProxy(value: string, where: string, problems: string[]): boolean | string[] {
  const text = value.trim().toLowerCase();
  if (text === 'false') return false;
  if (text === 'true') return true;
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  const bad = entries.filter((entry) => {
    if (PROXY_RANGES.includes(entry)) return false;
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || rest.length > 0) return true;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (entries.length === 0 || bad.length > 0) {
    problems.push(`${where} must be true, false, or a comma-separated list of addresses or CIDR ranges (or loopback), got '${value}'`);
    return false;
  }
  return entries;
}

/** A description of the remote that is safe to show: no password, ever. */
export function describeRemote(remote: RemoteConfig): string {
  switch (remote.kind) {
    case 'none':
      return 'none (standalone)';
    case 'folder':
      return pathToFileURL(remote.path).href;
    case 'webdav':
      return `${remote.baseUrl}${remote.remoteRoot}${remote.username ? ` (user ${remote.username})` : ''}`;
  }
}
