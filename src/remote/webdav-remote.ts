/** `WebDavRemote`: the `Remote` interface on a WebDAV server (Nextcloud, Apache, nginx, rclone, a NAS). */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { parseStat, parseXML, prepareFileFromProps, type DAVResult, type FileStat } from 'webdav';
import {
  DEFAULT_READ_LIMITS,
  guardBody,
  LISTING_MAX_BYTES,
  readCapped,
  SMALL_FILE_MAX_BYTES,
  watchRequest,
  type ReadLimits,
  type ReadOptions,
} from './bounded-read.ts';
import { ParentMissingError, PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError } from './errors.ts';
import type { PutBody, PutOptions, PutResult, Remote, RemoteEntry, RemoteStat } from './remote.ts';
import { bodySize } from './remote.ts';
import { propText } from './webdav-quirks.ts';

export interface WebDavRemoteOptions {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  remoteRoot: string;
  /** Deadlines and idle timeouts of every request (tests shorten them). */
  limits?: Partial<ReadLimits>;
}

/** What `send` hands back: the status, headers, and the body as the caller asked for it. */
interface DavResponse {
  status: number;
  headers: { get(name: string): string | null };
  /** The live, guarded response stream (`body: 'stream'`), otherwise already drained. */
  stream: Readable | undefined;
  /** The whole body (`body: 'bytes'`). */
  bytes: Buffer | undefined;
}

type BodyMode = 'stream' | 'bytes' | 'discard';

/** The most of an unwanted body (a PUT's answer, an error page) read before the connection is dropped. */
const DISCARD_MAX_BYTES = 1024 * 1024;

/**
 * A remote on any WebDAV server. Every request goes out with `node:http` on keep-alive agents, and
 * every answer is bounded (`bounded-read.ts`): a header deadline, an idle timeout for bodies, a size
 * cap. `node:http` follows no redirect, so the credentials never reach another origin: a 3xx is an
 * error that names where the server wanted to go. PROPFIND answers are parsed with the `webdav`
 * package's XML helpers. Paths are percent-encoded segment by segment in every request, and listed
 * names decoded from their hrefs, so a root like `/Belege & Rechnungen` or `100%` works everywhere.
 * Quirks are handled here, each measured on a real server (docs/webdav-servers.md): nginx wants a trailing
 * slash for MKCOL and DELETE of a collection; Apache answers 403 to the loser of two simultaneous
 * MKCOLs; every PUT sends Content-Length (chunked bodies become empty files behind some proxies);
 * ETags arrive without quotes from PROPFIND and are re-quoted; a body that breaks off after the
 * headers (rclone during an overwrite) is a retryable error.
 */
/** How recent a server `Date` must be to stand in for asking the server's time again. */
const FRESH_DATE_MS = 1000;

export class WebDavRemote implements Remote {
  readonly description: string;
  /** A 201/204 to a PUT with Content-Length means stored, on every server measured (see `Remote`). */
  readonly putAnswerConfirms = true;
  private readonly rootSegments: string[];
  private readonly limits: ReadLimits;
  private readonly origin: URL;
  /** URL path of the remote root, percent-encoded, no trailing slash. */
  private readonly rootPath: string;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  /** The server's `Date` in the last answer, and when it arrived (local clock). */
  private lastDate: { date: number; receivedAt: number } | undefined;
  private readonly authorization: string | undefined;

  constructor(private readonly options: WebDavRemoteOptions) {
    const root = options.remoteRoot.replace(/\/+$/, '');
    this.rootSegments = root.split('/').filter(Boolean);
    this.limits = { ...DEFAULT_READ_LIMITS, ...options.limits };
    this.description = `${options.baseUrl}${root}`;
    this.origin = new URL(options.baseUrl);
    this.rootPath = `${this.origin.pathname.replace(/\/+$/, '')}/${this.rootSegments.map(encodeURIComponent).join('/')}`.replace(/\/+$/, '');
    const isHttps = this.origin.protocol === 'https:';
    this.transport = isHttps ? https : http;
    // Keep-alive agents: without them every request opens a new connection.
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: 16 }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.authorization =
      options.username || options.password
        ? `Basic ${Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64')}`
        : undefined;
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    try {
      const result = await this.propfind(this.urlPath(path), '0', path);
      return toStat(parseStat(result, path));
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async get(path: string, options: ReadOptions = {}): Promise<Readable | undefined> {
    return (await this.request(path, 'GET', {}, 'stream', options.maxBytes))?.stream;
  }

  async getBytes(path: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const response = await this.request(path, 'GET', {}, 'bytes', options.maxBytes ?? SMALL_FILE_MAX_BYTES);
    options.onEtag?.(response?.headers.get('etag') ?? undefined);
    return response?.bytes;
  }

  async put(path: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = {
      'Content-Length': String(bodySize(body)),
      'Content-Type': options.contentType ?? 'application/octet-stream',
    };
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    if (options.ifNoneMatch) headers['If-None-Match'] = options.ifNoneMatch;
    const data = Buffer.isBuffer(body) ? body : body.open();
    let response: DavResponse | undefined;
    try {
      response = await this.request(path, 'PUT', { headers, data }, 'discard');
    } catch (error) {
      // RFC 4918 §9.7.1: 409 to a PUT is a missing parent (Apache, lighttpd).
      if (error instanceof RemoteError && error.remoteStatus === 409) throw new ParentMissingError(path, 409, { cause: error });
      throw error;
    }
    // rclone and sabre/dav answer 404 instead.
    if (!response) throw new ParentMissingError(path, 404);
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

  /**
   * Entries named from their hrefs, percent-decoded segment by segment; the folder's own entry is
   * the one whose decoded path is the folder's (servers differ in what they encode, `&` say).
   */
  async list(path: string): Promise<RemoteEntry[] | undefined> {
    try {
      const folder = this.urlPath(path).replace(/\/+$/, '');
      const result = await this.propfind(`${folder}/`, '1', path);
      const self = decodedPath(folder);
      const entries: RemoteEntry[] = [];
      for (const item of result.multistatus.response) {
        const decoded = decodedPath(hrefPath(String(item.href)));
        if (decoded === undefined || decoded === self || !item.propstat) continue;
        const name = decoded.slice(decoded.lastIndexOf('/') + 1);
        if (name === '') continue;
        entries.push({ ...toStat(prepareFileFromProps(item.propstat.prop, decoded)), name });
      }
      return entries;
    } catch (error) {
      return this.absentOr(error, path);
    }
  }

  async mkdir(path: string): Promise<'created' | 'exists'> {
    if (path === '') return this.mkdirRoot();
    return this.mkcol(this.urlPath(path));
  }

  async serverTime(): Promise<number> {
    // The Date of an answer that came moments ago (the lock's MKCOL, say) tells the same as a new
    // OPTIONS would: one request less per lock taken or renewed.
    const seen = this.lastDate;
    if (seen && Date.now() - seen.receivedAt < FRESH_DATE_MS) return seen.date + 500 + (Date.now() - seen.receivedAt);
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
    const what = `MKCOL ${decodedPath(target) ?? target}`;
    try {
      await this.send(target, 'MKCOL', {}, undefined, 'discard', what);
      return 'created';
    } catch (error) {
      const status = statusOf(error);
      if (status === 405) return 'exists';
      if (status === 403 && (await this.existsAsFolder(target, what))) return 'exists';
      if (status === 409) throw new RemoteError(`Cannot create ${target}: its parent folder does not exist`, { status });
      throw translate(error, target);
    }
  }

  private async existsAsFolder(urlPath: string, what: string): Promise<boolean> {
    try {
      return toStat(parseStat(await this.propfind(urlPath, '0', what), what)).isDirectory;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw translate(error, what);
    }
  }

  /** The parsed multistatus of a PROPFIND (all properties; servers send the few we read). */
  private async propfind(urlPath: string, depth: '0' | '1', path: string): Promise<DAVResult> {
    const what = `PROPFIND ${path || '/'}`;
    const headers = { Depth: depth, Accept: 'application/xml,text/xml' };
    const response = await this.send(urlPath, 'PROPFIND', headers, undefined, 'bytes', what, LISTING_MAX_BYTES);
    try {
      return await parseXML(response.bytes!.toString('utf8'));
    } catch (error) {
      throw new RemoteError(`The WebDAV server's answer to ${what} is not a WebDAV multistatus`, { cause: error });
    }
  }

  /** One request; `undefined` for a 404, typed errors for everything else that failed. */
  private async request(
    path: string,
    method: string,
    init: { headers?: Record<string, string>; data?: Buffer | Readable },
    body: BodyMode,
    maxBytes?: number,
  ): Promise<DavResponse | undefined> {
    try {
      return await this.send(this.urlPath(path), method, init.headers ?? {}, init.data, body, `${method} ${path || '/'}`, maxBytes);
    } catch (error) {
      if (statusOf(error) === 412) throw new PreconditionFailedError(path);
      return this.absentOr(error, path);
    }
  }

  /**
   * The request itself on the keep-alive agent, bounded (`watchRequest`, `guardBody`). A 3xx is a
   * `RemoteError` (never followed); a status ≥ 400 rejects with `{ status }` for `translate`. Bodies
   * nobody asked for are drained (capped), so the socket goes back to the pool.
   */
  private send(
    urlPath: string,
    method: string,
    headers: Record<string, string>,
    data: Buffer | Readable | undefined,
    body: BodyMode,
    what: string,
    maxBytes?: number,
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
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const responseHeaders = { get: (name: string) => headerValue(res.headers[name.toLowerCase()]) };
          const date = Date.parse(responseHeaders.get('date') ?? '');
          if (!Number.isNaN(date)) this.lastDate = { date, receivedAt: Date.now() };
          const drain = () => {
            try {
              guardBody(res, this.limits.idleMs, what, DISCARD_MAX_BYTES).on('error', () => undefined).resume();
            } catch {
              // Too big to drain: the connection is dropped instead of reused.
            }
          };
          try {
            if (status >= 300 && status < 400) {
              drain();
              reject(redirected(what, status, responseHeaders.get('location'), this.origin));
            } else if (status >= 400) {
              drain();
              reject(Object.assign(new Error(`Invalid response: ${status} ${res.statusMessage ?? ''}`), { status }));
            } else if (body === 'stream') {
              resolve({ status, headers: responseHeaders, stream: guardBody(res, this.limits.idleMs, what, maxBytes), bytes: undefined });
            } else if (body === 'bytes') {
              const limit = maxBytes ?? SMALL_FILE_MAX_BYTES;
              readCapped(guardBody(res, this.limits.idleMs, what, limit), limit, what).then(
                (bytes) => resolve({ status, headers: responseHeaders, stream: undefined, bytes }),
                reject,
              );
            } else {
              drain();
              resolve({ status, headers: responseHeaders, stream: undefined, bytes: undefined });
            }
          } catch (error) {
            reject(error);
          }
        },
      );
      const upload = data !== undefined && !Buffer.isBuffer(data) ? data : undefined;
      watchRequest(req, this.limits, what, upload);
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
}

/**
 * A 3xx answer, never followed: `node:http` would not send the credentials on, but a client that
 * did would hand them to whatever origin the server names.
 */
function redirected(what: string, status: number, location: string | null, origin: URL): RemoteError {
  let target = 'an unnamed address';
  if (location) {
    try {
      const url = new URL(location, origin);
      url.username = '';
      url.password = '';
      target = url.href;
    } catch {
      target = JSON.stringify(location.slice(0, 200));
    }
  }
  return new RemoteError(
    `The WebDAV server redirected ${what} (${status}) to ${target}; redirects are not followed (credentials stay with ${origin.origin}): set WEBDAV_BASE_URL to the final address`,
    { status },
  );
}

/** The path of an href: most servers send a path, some a full URL. */
function hrefPath(href: string): string {
  if (href.startsWith('/')) return href;
  try {
    return new URL(href).pathname;
  } catch {
    return href;
  }
}

/** A URL path percent-decoded segment by segment, without a trailing slash; undefined when malformed. */
function decodedPath(urlPath: string): string | undefined {
  try {
    return urlPath.split('/').map(decodeURIComponent).join('/').replace(/\/+$/, '');
  } catch {
    return undefined;
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
