import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError } from './errors.ts';
import type { PutBody, PutOptions, PutResult, Remote, RemoteEntry, RemoteStat } from './remote.ts';
import { bodySize } from './remote.ts';

export interface WebDavRemoteOptions {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Folder on the server that holds the docsync remote, e.g. `/docsync`. */
  remoteRoot: string;
  /** Deadline for requests without a large body (ms). */
  requestTimeoutMs?: number;
}

/** Node's fetch-style response, as the `webdav` client returns it from `customRequest`. */
interface DavResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: unknown;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * A remote on any WebDAV server, through the `webdav` client. Quirks are handled here, each
 * measured on a real server (WEBDAV-NOTES.md): nginx wants a trailing slash for MKCOL and DELETE of
 * a collection; PUT always sends Content-Length (chunked bodies become empty files behind some
 * proxies); ETags arrive without quotes from PROPFIND and are re-quoted.
 */
export class WebDavRemote implements Remote {
  readonly description: string;
  private readonly client: WebDAVClient;
  private readonly rootSegments: string[];
  private readonly timeoutMs: number;

  constructor(private readonly options: WebDavRemoteOptions) {
    const root = options.remoteRoot.replace(/\/+$/, '');
    this.rootSegments = root.split('/').filter(Boolean);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.description = `${options.baseUrl}${root}`;
    // Keep-alive agents: without them the client opens a new connection per request.
    this.client = createClient(`${options.baseUrl}${root}`, {
      username: options.username,
      password: options.password,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 16 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 16 }),
    });
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    try {
      return toStat((await this.client.stat(this.url(path), { signal: this.deadline() })) as FileStat);
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async get(path: string): Promise<Readable | undefined> {
    const response = await this.request(path, 'GET', {}, { stream: true });
    if (!response) return undefined;
    const body = response.body as Readable | ReadableStream<Uint8Array> | null;
    if (!body) return Readable.from([]);
    return body instanceof Readable ? body : Readable.fromWeb(body as import('node:stream/web').ReadableStream);
  }

  async getBytes(path: string): Promise<Buffer | undefined> {
    const response = await this.request(path, 'GET');
    if (!response) return undefined;
    try {
      return Buffer.from(await response.arrayBuffer());
    } catch (error) {
      // The body broke off after the headers (rclone aborts reads during an overwrite): retryable.
      throw translate(error, path);
    }
  }

  async put(path: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = {
      'Content-Length': String(bodySize(body)),
      'Content-Type': options.contentType ?? 'application/octet-stream',
    };
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    if (options.ifNoneMatch) headers['If-None-Match'] = options.ifNoneMatch;
    const data = Buffer.isBuffer(body) ? body : body.open();
    const response = await this.request(path, 'PUT', { headers, data }, { stream: !Buffer.isBuffer(body) });
    if (!response) throw new RemoteError(`Cannot write ${path}: its folder does not exist on the server`, { status: 404 });
    const etag = response.headers.get('etag');
    return etag ? { etag } : {};
  }

  async delete(path: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    const headers: Record<string, string> = options.ifMatch ? { 'If-Match': options.ifMatch } : {};
    try {
      return (await this.request(path, 'DELETE', { headers })) !== undefined;
    } catch (error) {
      // nginx refuses DELETE of a collection without the trailing slash (409).
      if (error instanceof RemoteError && error.remoteStatus === 409 && !path.endsWith('/')) {
        return (await this.request(`${path}/`, 'DELETE', { headers })) !== undefined;
      }
      throw error;
    }
  }

  async list(path: string): Promise<RemoteEntry[] | undefined> {
    try {
      const entries = (await this.client.getDirectoryContents(this.url(path), { signal: this.deadline() })) as FileStat[];
      return entries.map((entry) => ({ ...toStat(entry), name: entry.basename }));
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async mkdir(path: string): Promise<'created' | 'exists'> {
    if (path === '') return this.mkdirRoot();
    return this.mkcol(`${this.description}/${path.split('/').map(encodeURIComponent).join('/')}`);
  }

  async serverTime(): Promise<number> {
    const sentAt = Date.now();
    const response = await this.request('', 'OPTIONS');
    const date = response?.headers.get('date');
    const parsed = date ? Date.parse(date) : Number.NaN;
    if (Number.isNaN(parsed)) throw new RemoteError('The WebDAV server sends no Date header: lock expiry cannot be judged');
    // Date has one-second resolution: aim at the middle of that second, plus half the round trip.
    return parsed + 500 + (Date.now() - sentAt) / 2;
  }

  /** Creates each folder of the remote root in turn: the server URL's own path must exist. */
  private async mkdirRoot(): Promise<'created' | 'exists'> {
    let result: 'created' | 'exists' = 'exists';
    for (let i = 1; i <= this.rootSegments.length; i++) {
      const url = `${this.options.baseUrl}/${this.rootSegments.slice(0, i).map(encodeURIComponent).join('/')}/`;
      result = await this.mkcol(url);
    }
    return result;
  }

  /**
   * MKCOL with a trailing slash (nginx requires it): 201 created, 405 already there. Apache answers
   * 403 to the loser of two simultaneous MKCOLs (its mkdir fails with EEXIST after the existence
   * check passed): a 403 on a folder that exists afterwards is "exists", not a permission problem.
   */
  private async mkcol(url: string): Promise<'created' | 'exists'> {
    const target = url.endsWith('/') ? url : `${url}/`;
    try {
      await this.client.customRequest('', { method: 'MKCOL', url: target, signal: this.deadline() } as never);
      return 'created';
    } catch (error) {
      const status = statusOf(error);
      if (status === 405) return 'exists';
      if (status === 403 && (await this.existsAsFolder(target))) return 'exists';
      if (status === 409) throw new RemoteError(`Cannot create ${target}: its parent folder does not exist`, { status });
      throw translate(error, target);
    }
  }

  private async existsAsFolder(url: string): Promise<boolean> {
    const relative = decodeURIComponent(url.slice(this.description.length)).replace(/^\/+|\/+$/g, '');
    return (await this.stat(relative))?.isDirectory === true;
  }

  /** One request; `undefined` for a 404, typed errors for everything else that failed. */
  private async request(
    path: string,
    method: string,
    init: { headers?: Record<string, string>; data?: Buffer | Readable } = {},
    { stream = false } = {},
  ): Promise<DavResponse | undefined> {
    try {
      return (await this.client.customRequest(this.url(path), {
        method,
        headers: init.headers ?? {},
        ...(init.data !== undefined && { data: init.data as unknown as Uint8Array }),
        // Streams (large bodies) get no deadline: a 1 GB transfer may rightly take minutes.
        ...(!stream && { signal: this.deadline() }),
      })) as unknown as DavResponse;
    } catch (error) {
      if (statusOf(error) === 412) throw new PreconditionFailedError(path);
      return this.absentOr(error, path);
    }
  }

  /** Only a 404 means absent; everything else is an error of the right kind. */
  private absentOr(error: unknown, path: string): undefined {
    if (statusOf(error) === 404) return undefined;
    throw translate(error, path);
  }

  private url(path: string): string {
    return `/${path}`;
  }

  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown; response?: { status?: unknown } } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** Maps a transport or HTTP failure onto the remote error family (the `shouldRetry` of docsync). */
function translate(error: unknown, path: string): RemoteError {
  if (error instanceof RemoteError) return error;
  const status = statusOf(error);
  if (status === undefined) {
    const reason = (error as { code?: string; name?: string; message?: string }) ?? {};
    return new RemoteUnavailableError(`WebDAV server unreachable for ${path}: ${reason.code ?? reason.name ?? reason.message}`, {
      cause: error,
    });
  }
  if (status === 401 || status === 403) {
    return new RemoteAuthError(`The WebDAV server refused access to ${path} (${status}): check WEBDAV_USERNAME and WEBDAV_PASSWORD`, status);
  }
  if (status === 408 || status === 423 || status === 425 || status === 429 || status >= 500) {
    return new RemoteUnavailableError(`The WebDAV server answered ${status} for ${path}`, { status, cause: error });
  }
  if (status === 412) return new PreconditionFailedError(path);
  return new RemoteError(`The WebDAV server answered ${status} for ${path}`, { status, cause: error });
}

function toStat(entry: FileStat): RemoteStat {
  const etag = entry.etag ? requote(entry.etag) : undefined;
  const modified = Date.parse(entry.lastmod);
  return {
    size: entry.size,
    isDirectory: entry.type === 'directory',
    ...(etag && { etag }),
    ...(!Number.isNaN(modified) && { modifiedAt: modified }),
  };
}

/** The client strips the quotes of PROPFIND ETags (`W/"x"` arrives as `W/x`): put them back for `If-Match`. */
function requote(raw: string): string {
  const weak = raw.startsWith('W/');
  const tag = weak ? raw.slice(2) : raw;
  const quoted = tag.startsWith('"') ? tag : `"${tag}"`;
  return weak ? `W/${quoted}` : quoted;
}
