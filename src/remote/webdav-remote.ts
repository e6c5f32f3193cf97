/** `WebDavRemote`: the `Remote` interface on a WebDAV server (Nextcloud, Apache, nginx, rclone, a NAS). */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError } from './errors.ts';
import type { PutBody, PutOptions, PutResult, Remote, RemoteEntry, RemoteStat } from './remote.ts';
import { bodySize } from './remote.ts';
import { propText } from './webdav-quirks.ts';

export interface WebDavRemoteOptions {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  remoteRoot: string;
  requestTimeoutMs?: number;
}

/** What `request` hands back: the status, headers, and the body as the caller asked for it. */
interface DavResponse {
  status: number;
  headers: { get(name: string): string | null };
  /** The live response stream (`body: 'stream'`), otherwise already drained. */
  stream: Readable | undefined;
  /** The whole body (`body: 'bytes'`). */
  bytes: Buffer | undefined;
}

type BodyMode = 'stream' | 'bytes' | 'discard';

/**
 * A remote on any WebDAV server. Requests that move bytes (GET, PUT, DELETE, MKCOL, OPTIONS) go out
 * with `node:http` on keep-alive agents; PROPFIND (stat, list) goes through the `webdav` client, which
 * parses the XML. (Through the client's node-fetch, every small request cost ~400 µs more client CPU:
 * 1.6-2.7x the bare-`http` floor on 1,000 x 1 KiB, measured by `npm run bench -- --only webdav`.)
 * Quirks are handled here, each measured on a real server (WEBDAV-NOTES.md): nginx wants a trailing
 * slash for MKCOL and DELETE of a collection; Apache answers 403 to the loser of two simultaneous
 * MKCOLs; every PUT sends Content-Length (chunked bodies become empty files behind some proxies);
 * ETags arrive without quotes from PROPFIND and are re-quoted; a body that breaks off after the
 * headers (rclone during an overwrite) is a retryable error.
 */
export class WebDavRemote implements Remote {
  readonly description: string;
  private readonly client: WebDAVClient;
  private readonly rootSegments: string[];
  private readonly timeoutMs: number;
  private readonly origin: URL;
  /** URL path of the remote root, percent-encoded, no trailing slash. */
  private readonly rootPath: string;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly authorization: string | undefined;

  constructor(private readonly options: WebDavRemoteOptions) {
    const root = options.remoteRoot.replace(/\/+$/, '');
    this.rootSegments = root.split('/').filter(Boolean);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.description = `${options.baseUrl}${root}`;
    this.origin = new URL(options.baseUrl);
    this.rootPath = `${this.origin.pathname.replace(/\/+$/, '')}/${this.rootSegments.map(encodeURIComponent).join('/')}`.replace(/\/+$/, '');
    const isHttps = this.origin.protocol === 'https:';
    this.transport = isHttps ? https : http;
    // Keep-alive agents: without them every request opens a new connection.
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
    this.agent = isHttps ? httpsAgent : httpAgent;
    this.authorization =
      options.username || options.password
        ? `Basic ${Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64')}`
        : undefined;
    this.client = createClient(`${options.baseUrl}${root}`, {
      username: options.username,
      password: options.password,
      httpAgent,
      httpsAgent,
    });
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    try {
      return toStat((await this.client.stat(`/${path}`, { signal: this.deadline() })) as FileStat);
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async get(path: string): Promise<Readable | undefined> {
    return (await this.request(path, 'GET', {}, 'stream'))?.stream;
  }

  async getBytes(path: string): Promise<Buffer | undefined> {
    return (await this.request(path, 'GET', {}, 'bytes'))?.bytes;
  }

  async put(path: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = {
      'Content-Length': String(bodySize(body)),
      'Content-Type': options.contentType ?? 'application/octet-stream',
    };
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    if (options.ifNoneMatch) headers['If-None-Match'] = options.ifNoneMatch;
    const data = Buffer.isBuffer(body) ? body : body.open();
    const response = await this.request(path, 'PUT', { headers, data }, 'discard');
    if (!response) throw new RemoteError(`Cannot write ${path}: its folder does not exist on the server`, { status: 404 });
    const etag = response.headers.get('etag');
    return etag ? { etag } : {};
  }

  async delete(path: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    const headers: Record<string, string> = options.ifMatch ? { 'If-Match': options.ifMatch } : {};
    try {
      return (await this.request(path, 'DELETE', { headers }, 'discard')) !== undefined;
    } catch (error) {
      if (error instanceof RemoteError && error.remoteStatus === 409 && !path.endsWith('/')) {
        return (await this.request(`${path}/`, 'DELETE', { headers }, 'discard')) !== undefined;
      }
      throw error;
    }
  }

  async list(path: string): Promise<RemoteEntry[] | undefined> {
    try {
      const entries = (await this.client.getDirectoryContents(`/${path}`, { signal: this.deadline() })) as FileStat[];
      return entries.map((entry) => ({ ...toStat(entry), name: entry.basename }));
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async mkdir(path: string): Promise<'created' | 'exists'> {
    if (path === '') return this.mkdirRoot();
    return this.mkcol(this.urlPath(path));
  }

  async serverTime(): Promise<number> {
    const sentAt = Date.now();
    const response = await this.request('', 'OPTIONS', {}, 'discard');
    const date = response?.headers.get('date');
    const parsed = date ? Date.parse(date) : Number.NaN;
    if (Number.isNaN(parsed)) throw new RemoteError('The WebDAV server sends no Date header: lock expiry cannot be judged');
    return parsed + 500 + (Date.now() - sentAt) / 2;
  }

  private async mkdirRoot(): Promise<'created' | 'exists'> {
    let result: 'created' | 'exists' = 'exists';
    const base = this.origin.pathname.replace(/\/+$/, '');
    for (let i = 1; i <= this.rootSegments.length; i++) {
      result = await this.mkcol(`${base}/${this.rootSegments.slice(0, i).map(encodeURIComponent).join('/')}`);
    }
    return result;
  }

  /**
   * MKCOL with a trailing slash (nginx requires it): 201 created, 405 already there. Apache answers
   * 403 to the loser of two simultaneous MKCOLs (its mkdir fails with EEXIST after the existence
   * check passed): a 403 on a folder that exists afterwards is "exists", not a permission problem.
   */
  private async mkcol(urlPath: string): Promise<'created' | 'exists'> {
    const target = urlPath.endsWith('/') ? urlPath : `${urlPath}/`;
    try {
      await this.send(target, 'MKCOL', {}, undefined, 'discard', true);
      return 'created';
    } catch (error) {
      const status = statusOf(error);
      if (status === 405) return 'exists';
      if (status === 403 && (await this.existsAsFolder(target))) return 'exists';
      if (status === 409) throw new RemoteError(`Cannot create ${target}: its parent folder does not exist`, { status });
      throw translate(error, target);
    }
  }

  private async existsAsFolder(urlPath: string): Promise<boolean> {
    const relative = decodeURIComponent(urlPath.slice(this.rootPath.length)).replace(/^\/+|\/+$/g, '');
    return (await this.stat(relative))?.isDirectory === true;
  }

  /** One request; `undefined` for a 404, typed errors for everything else that failed. */
  private async request(
    path: string,
    method: string,
    init: { headers?: Record<string, string>; data?: Buffer | Readable },
    body: BodyMode,
  ): Promise<DavResponse | undefined> {
    try {
      // Streams (large bodies) get no deadline: a 1 GB transfer may rightly take minutes.
      const streaming = body === 'stream' || (init.data !== undefined && !Buffer.isBuffer(init.data));
      return await this.send(this.urlPath(path), method, init.headers ?? {}, init.data, body, !streaming);
    } catch (error) {
      if (statusOf(error) === 412) throw new PreconditionFailedError(path);
      return this.absentOr(error, path);
    }
  }

  /**
   * The request itself on the keep-alive agent. A status ≥ 400 rejects with `{ status }` (as the
   * `webdav` client does, so `translate` stays the same) after draining the body, so the socket goes
   * back to the pool; so does a body nobody asked for.
   */
  private send(
    urlPath: string,
    method: string,
    headers: Record<string, string>,
    data: Buffer | Readable | undefined,
    body: BodyMode,
    withDeadline: boolean,
  ): Promise<DavResponse> {
    return new Promise<DavResponse>((resolve, reject) => {
      const allHeaders: http.OutgoingHttpHeaders = this.authorization ? { Authorization: this.authorization, ...headers } : { ...headers };
      const req = this.transport.request(
        {
          protocol: this.origin.protocol,
          hostname: this.origin.hostname,
          port: this.origin.port,
          path: urlPath,
          method,
          headers: allHeaders,
          agent: this.agent,
          ...(withDeadline && { signal: this.deadline() }),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const responseHeaders = { get: (name: string) => headerValue(res.headers[name.toLowerCase()]) };
          if (status >= 400) {
            res.resume();
            reject(Object.assign(new Error(`Invalid response: ${status} ${res.statusMessage ?? ''}`), { status }));
            return;
          }
          if (body === 'stream') {
            resolve({ status, headers: responseHeaders, stream: res, bytes: undefined });
          } else if (body === 'bytes') {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.once('end', () =>
              resolve({ status, headers: responseHeaders, stream: undefined, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }),
            );
            res.once('error', reject);
          } else {
            res.resume();
            resolve({ status, headers: responseHeaders, stream: undefined, bytes: undefined });
          }
        },
      );
      req.once('error', reject);
      if (data === undefined) req.end();
      else if (Buffer.isBuffer(data)) req.end(data);
      else {
        data.once('error', (error) => req.destroy(error));
        req.once('close', () => data.destroy());
        data.pipe(req);
      }
    });
  }

  private absentOr(error: unknown, path: string): undefined {
    if (statusOf(error) === 404) return undefined;
    throw translate(error, path);
  }

  /** `ab/x.bin` → `/dav/root/ab/x.bin`, each segment percent-encoded (`''` → the root, with a slash). */
  private urlPath(path: string): string {
    return `${this.rootPath}/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

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
  const modified = Date.parse(propText(entry.lastmod) ?? '');
  return {
    size: entry.size,
    isDirectory: entry.type === 'directory',
    ...(etag && { etag }),
    ...(!Number.isNaN(modified) && { modifiedAt: modified }),
  };
}

function requote(raw: string): string {
  const weak = raw.startsWith('W/');
  const tag = weak ? raw.slice(2) : raw;
  const quoted = tag.startsWith('"') ? tag : `"${tag}"`;
  return weak ? `W/${quoted}` : quoted;
}
