import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from './errors.ts';

/** Where instances meet (SPEC §2). The sync engine that uses it arrives with the remote tier. */
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
  transferWorkers: number;
  lockTtlSeconds: number;
  lockWaitSeconds: number;
  maxDeletePercent: number;
  maxUploadBytes: number;
  /** The largest metadata snapshot a sync downloads (a bigger one is refused, never written whole). */
  maxSnapshotBytes: number;
  sessionTtlHours: number;
  sseKeepAliveSeconds: number;
  /** History window (SPEC §9): snapshots, journals and the blobs their rows name are kept this long. */
  historyDays: number;
  /** A blob younger than this is never collected (an upload of a sync in flight). */
  gcGraceHours: number;
  /** Remote GC runs at most once per this many hours, after a commit. */
  gcIntervalHours: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `pretty` for people, `json` for collectors; `auto`: pretty when stdout is a terminal. */
  logFormat: 'auto' | 'pretty' | 'json';
  /** A bearer token that may read `/metrics` and nothing else; unset: a session or API token is needed. */
  metricsToken: string | undefined;
}

/** Raw values by option name, from CLI flags (which win over the environment). */
export type ConfigFlags = Partial<Record<OptionName, string | undefined>>;

interface OptionSpec {
  env: string;
  /** Long CLI flag of `docsync serve` (and the global flags of other commands). */
  flag: string;
  help: string;
  default?: string;
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
  logLevel: { env: 'DOCSYNC_LOG_LEVEL', flag: 'log-level', help: 'fatal|error|warn|info|debug|trace|silent', default: 'info' },
  logFormat: { env: 'DOCSYNC_LOG_FORMAT', flag: 'log-format', help: 'auto|pretty|json: auto is pretty on a terminal, JSON otherwise', default: 'auto' },
  metricsToken: { env: 'DOCSYNC_METRICS_TOKEN', flag: 'metrics-token', help: 'bearer token that may read /metrics (and nothing else)', secret: true },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS: readonly Config['logFormat'][] = ['auto', 'pretty', 'json'];

/**
 * Parses and validates the configuration once. Every problem is collected, so a person fixing their
 * environment sees all of them at once. Relative paths resolve against `cwd`.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: ConfigFlags = {},
  cwd: string = process.cwd(),
): Config {
  const problems: string[] = [];
  const raw = (name: OptionName): string | undefined => {
    const spec: OptionSpec = OPTIONS[name];
    const fromFlag = flags[name];
    if (fromFlag !== undefined) return fromFlag;
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return spec.default;
  };
  const where = (name: OptionName): string => `${OPTIONS[name].env} (--${OPTIONS[name].flag})`;
  const int = (name: OptionName, min: number, max: number): number => {
    const value = raw(name) ?? '';
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${where(name)} must be a whole number from ${min} to ${max}, got '${value}'`);
      return min;
    }
    return n;
  };

  const dataDir = path.resolve(cwd, raw('dataDir') ?? './data');
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

  const config: Config = {
    dataDir,
    port: int('port', 0, 65535),
    host,
    remote: parseRemote(raw, where, problems, cwd, dataDir),
    adminPassword: raw('adminPassword'),
    syncIntervalSeconds: int('syncInterval', 0, 7 * 24 * 3600),
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
    logFormat: logFormat as Config['logFormat'],
    metricsToken,
  };
  if (config.adminPassword !== undefined && config.adminPassword.length < 8) {
    problems.push(`${where('adminPassword')} must be at least 8 characters`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseRemote(
  raw: (name: OptionName) => string | undefined,
  where: (name: OptionName) => string,
  problems: string[],
  cwd: string,
  dataDir: string,
): RemoteConfig {
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
      password: raw('webdavPassword'),
      remoteRoot,
    };
  }
  const remote = raw('remote');
  // The embedded default: a shared folder beside the data dir, so that a second instance started
  // with another data dir in the same parent folder syncs with the first at once.
  if (remote === undefined) return { kind: 'folder', path: path.join(path.dirname(dataDir), 'remote') };
  if (remote === 'none') return { kind: 'none' };
  if (remote.startsWith('file://')) {
    try {
      return { kind: 'folder', path: fileURLToPath(remote) };
    } catch {
      // `file://./remote` is not a valid file URL, but people write it: resolve it relative to cwd.
      return { kind: 'folder', path: path.resolve(cwd, remote.slice('file://'.length)) };
    }
  }
  problems.push(`${where('remote')} must be 'none' or a file:// URL, got '${remote}'`);
  return { kind: 'none' };
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
