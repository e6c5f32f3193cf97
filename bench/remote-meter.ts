/**
 * Two ways of seeing what a sync sends to the remote:
 * - `MeteredRemote`, a `Remote` decorator placed between `RetryingRemote` and `WebDavRemote` (so every
 *   attempt counts): calls per operation and payload bytes each way, split into blobs, metadata
 *   snapshots, journal files (format 2's deltas) and the rest (version.txt, the lock, the capability
 *   probe). No extra hop, so it is used while timing.
 * - `startCountingProxy`, a reverse proxy in front of the WebDAV server that counts the HTTP requests
 *   themselves (what the server really sees) and the body bytes each way. An extra hop.
 */
import http from 'node:http';
import type net from 'node:net';
import { Transform, pipeline, type Readable } from 'node:stream';
import { bodySize, type PutBody, type PutOptions, type PutResult, type ReadOptions, type Remote, type RemoteEntry, type RemoteStat } from '../src/remote/remote.ts';

export type PayloadKind = 'blob' | 'snapshot' | 'journal' | 'control';
export const PAYLOAD_KINDS: readonly PayloadKind[] = ['blob', 'snapshot', 'journal', 'control'];

/**
 * What a remote path (relative to the remote root) carries. Snapshots: `metadata/*.db` (format 1) and
 * `snapshots/*.db` (format 2); journal: format 2's per-commit deltas under `journal/`.
 */
export function payloadKind(path: string): PayloadKind {
  if (/^(metadata|snapshots)\/[^/]+\.db$/.test(path)) return 'snapshot';
  if (/^journal\/[^/]+$/.test(path)) return 'journal';
  // A blob, or its shard folder (its MKCOL, its listing).
  if (/^[0-9a-f]{2}(\/[0-9a-f]{64}\.[a-z0-9.]+)?$/.test(path)) return 'blob';
  return 'control';
}

export interface MeterReading {
  /** Calls by `OPERATION kind`, e.g. `put blob`, `getBytes control`. */
  calls: Map<string, number>;
  totalCalls: number;
  up: Record<PayloadKind, number>;
  down: Record<PayloadKind, number>;
}

const zero = (): Record<PayloadKind, number> => ({ blob: 0, snapshot: 0, journal: 0, control: 0 });

export class MeteredRemote implements Remote {
  private reading: MeterReading = { calls: new Map(), totalCalls: 0, up: zero(), down: zero() };

  constructor(private readonly inner: Remote) {}

  get description(): string {
    return this.inner.description;
  }

  get putAnswerConfirms(): boolean | undefined {
    return this.inner.putAnswerConfirms;
  }

  /** What was counted since the last `take()` (or since the start), and starts counting afresh. */
  take(): MeterReading {
    const reading = this.reading;
    this.reading = { calls: new Map(), totalCalls: 0, up: zero(), down: zero() };
    return reading;
  }

  private count(operation: string, path: string): PayloadKind {
    const kind = payloadKind(path);
    const key = `${operation} ${kind}`;
    this.reading.calls.set(key, (this.reading.calls.get(key) ?? 0) + 1);
    this.reading.totalCalls++;
    return kind;
  }

  stat(path: string): Promise<RemoteStat | undefined> {
    this.count('stat', path);
    return this.inner.stat(path);
  }

  async get(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    const kind = this.count('get', path);
    const stream = await this.inner.get(path, options);
    if (!stream) return undefined;
    // Counted as the consumer reads it; errors and early destruction pass through both ways.
    const reading = this.reading;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        reading.down[kind] += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(stream, counter, () => undefined);
    return counter;
  }

  async getBytes(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    const kind = this.count('getBytes', path);
    const bytes = await this.inner.getBytes(path, options);
    if (bytes) this.reading.down[kind] += bytes.length;
    return bytes;
  }

  async put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    const kind = this.count('put', path);
    const result = await this.inner.put(path, body, options);
    this.reading.up[kind] += bodySize(body);
    return result;
  }

  delete(path: string, options?: { ifMatch?: string }): Promise<boolean> {
    this.count('delete', path);
    return this.inner.delete(path, options);
  }

  list(path: string): Promise<RemoteEntry[] | undefined> {
    this.count('list', path);
    return this.inner.list(path);
  }

  mkdir(path: string): Promise<'created' | 'exists'> {
    this.count('mkdir', path);
    return this.inner.mkdir(path);
  }

  serverTime(): Promise<number> {
    this.count('serverTime', '');
    return this.inner.serverTime();
  }
}

/** `put blob ×10, get snapshot ×1, …`, most frequent first. */
export function describeCalls(calls: Map<string, number>, runs = 1): string {
  return [...calls]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([key, n]) => `${key} ×${fmtCount(n / runs)}`)
    .join(', ');
}

export interface ProxyReading {
  /** Requests by `METHOD path-kind`. */
  byKey: Map<string, number>;
  total: number;
  /** Body bytes client → server (request bodies) by what the path carries (headers not counted). */
  up: Record<PayloadKind, number>;
  /** Body bytes server → client (response bodies, PROPFIND listings included) by what the path carries. */
  down: Record<PayloadKind, number>;
  /**
   * Body bytes each way by the first segment of the path: `version.txt`, `journal`, `snapshots`,
   * `metadata`, `version.txt.lock`, … (blob shard folders as `<blobs>`, the root as `<root>`).
   */
  byTop: Map<string, { up: number; down: number }>;
  /** Every request in the order sent: `METHOD path → status` (the path relative to the remote root). */
  log: string[];
}

/** The first segment of a remote path, shard folders and blobs grouped as `<blobs>`. */
export function topSegment(rel: string): string {
  const first = rel.split('/')[0] ?? '';
  return first === '' ? '<root>' : /^[0-9a-f]{2}$/.test(first) ? '<blobs>' : first;
}

export interface CountingProxy {
  /** The WebDAV base URL through the proxy (same path as the server's). */
  baseUrl: string;
  /** What went through since the last `take()`. */
  take(): ProxyReading;
  close(): Promise<void>;
}

/** Counts the bytes that pass, into `counts[kind]`. */
function byteTap(reading: ProxyReading, direction: 'up' | 'down', kind: PayloadKind, top: string): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      reading[direction][kind] += chunk.length;
      const t = reading.byTop.get(top) ?? { up: 0, down: 0 };
      t[direction] += chunk.length;
      reading.byTop.set(top, t);
      done(null, chunk);
    },
  });
}

const emptyReading = (): ProxyReading => ({ byKey: new Map(), total: 0, up: zero(), down: zero(), byTop: new Map(), log: [] });

/**
 * A reverse proxy on a free loopback port in front of `serverBaseUrl` (`http://host:port/dav`):
 * forwards every request as it is and counts it by method and by what its path carries (`rootPath`
 * is the remote root under the base URL, e.g. `/sync-10000`).
 */
export async function startCountingProxy(serverBaseUrl: string, rootPath: string): Promise<CountingProxy> {
  const target = new URL(serverBaseUrl);
  const prefix = `${target.pathname.replace(/\/+$/, '')}${rootPath}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let reading = emptyReading();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const rel = decodeURIComponent(url.startsWith(prefix) ? url.slice(prefix.length) : url).replace(/^\/+|\/+$/g, '');
    const kind = payloadKind(rel);
    const top = topSegment(rel);
    const key = `${req.method} ${kind}`;
    const counted = reading;
    counted.byKey.set(key, (counted.byKey.get(key) ?? 0) + 1);
    counted.total++;
    const upstream = http.request(
      { hostname: target.hostname, port: target.port, path: url, method: req.method, headers: req.headers, agent },
      (up) => {
        counted.log.push(`${req.method} /${rel} → ${up.statusCode}`);
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
        up.pipe(byteTap(counted, 'down', kind, top)).pipe(res);
      },
    );
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(byteTap(counted, 'up', kind, top)).pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${target.pathname.replace(/\/+$/, '')}`,
    take: () => {
      const taken = reading;
      reading = emptyReading();
      return taken;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function fmtCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
