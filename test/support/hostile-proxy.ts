import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a misbehaving server does to a request it matches. */
export type Misbehaviour =
  /** Reads the request and never answers (the connection stays open). */
  | { kind: 'stallHeaders' }
  /** Forwards, sends the headers and the first `bytes` of the body, then falls silent. */
  | { kind: 'stallBody'; bytes: number }
  /** 200 with a body that never ends. */
  | { kind: 'endless' }
  /** Forwards, then sends `extraBytes` more than the file holds (`'endless'`: without end). */
  | { kind: 'oversize'; extraBytes: number | 'endless' }
  /** A redirect to `location` + the request's path. */
  | { kind: 'redirect'; status: 301 | 302 | 307 | 308; location: string }
  /** 200 with an empty body (sabre/dav while the file is being rewritten). */
  | { kind: 'empty' };

export interface HostileRule {
  method?: string;
  /** The request path (as sent, percent-encoded) contains this. */
  pathIncludes?: string;
  /** …or ends with this (`/version.txt`, not `/version.txt.lock/owner.json`). */
  pathEndsWith?: string;
  /** How many matching requests it applies to (`Infinity`: all). */
  times: number;
  does: Misbehaviour;
}

export interface HostileProxy {
  origin: string;
  /** Adds a rule; returns a function that withdraws it. */
  misbehave(rule: HostileRule): () => void;
  /** Withdraws every rule and cuts the connections held by stalls. */
  behave(): void;
  /** How often each rule fired, by kind. */
  readonly fired: Record<Misbehaviour['kind'], number>;
  /** Requests seen, as `METHOD path`. */
  readonly log: string[];
  /** Bytes of invented body sent (endless and oversize answers). */
  readonly inventedBytes: number;
  stop(): Promise<void>;
}

/**
 * A proxy on a free loopback port in front of a real WebDAV server that misbehaves on chosen
 * requests — stalls, endless or oversized bodies, redirects, empty reads — and forwards the rest.
 */
export async function startHostileProxy(upstreamOrigin: string): Promise<HostileProxy> {
  const upstream = new URL(upstreamOrigin);
  const agent = new http.Agent({ keepAlive: true });
  let rules: HostileRule[] = [];
  const held = new Set<http.ServerResponse>();
  const fired: Record<Misbehaviour['kind'], number> = { stallHeaders: 0, stallBody: 0, endless: 0, oversize: 0, redirect: 0, empty: 0 };
  let invented = 0;
  const log: string[] = [];

  /** Zeros until the client goes away. */
  const pour = (res: http.ServerResponse) => {
    const chunk = Buffer.alloc(64 * 1024, 0x31);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) invented += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.once('close', () => res.removeAllListeners('drain'));
    pump();
  };

  const forward = (req: http.IncomingMessage, onAnswer: (answer: http.IncomingMessage) => void, res: http.ServerResponse) => {
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      onAnswer,
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    log.push(`${req.method} ${url}`);
    const rule = rules.find(
      (r) =>
        r.times > 0 &&
        (!r.method || r.method === req.method) &&
        (!r.pathIncludes || url.includes(r.pathIncludes)) &&
        (!r.pathEndsWith || url.replace(/\/$/, '').endsWith(r.pathEndsWith)),
    );
    if (!rule) {
      forward(req, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }, res);
      return;
    }
    rule.times--;
    fired[rule.does.kind]++;
    const does = rule.does;
    switch (does.kind) {
      case 'stallHeaders':
        req.resume();
        held.add(res);
        return;
      case 'empty':
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-length': '0', 'content-type': 'text/plain' }).end());
        return;
      case 'redirect':
        req.resume();
        req.on('end', () => res.writeHead(does.status, { location: `${does.location}${req.url}`, 'content-length': '0' }).end());
        return;
      case 'endless':
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          pour(res);
        });
        return;
      case 'stallBody':
        forward(req, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          held.add(res);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent < does.bytes) res.write(chunk.subarray(0, does.bytes - sent));
            sent += chunk.length;
          });
        }, res);
        return;
      case 'oversize':
        forward(req, (answer) => {
          const { 'content-length': length, ...headers } = answer.headers;
          const extra = does.extraBytes;
          if (extra !== 'endless' && length !== undefined) headers['content-length'] = String(Number(length) + extra);
          res.writeHead(answer.statusCode ?? 502, headers);
          answer.on('data', (chunk: Buffer) => res.write(chunk));
          answer.on('end', () => {
            if (extra === 'endless') return pour(res);
            invented += extra;
            res.end(Buffer.alloc(extra, 0x31));
          });
        }, res);
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const behave = () => {
    rules = [];
    for (const res of held) res.destroy();
    held.clear();
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    misbehave: (rule) => {
      const added = { ...rule };
      rules.push(added);
      return () => {
        rules = rules.filter((r) => r !== added);
      };
    },
    behave,
    fired,
    log,
    get inventedBytes() {
      return invented;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        behave();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A listener on another loopback port that records every request, and whether credentials came along. */
export interface CredentialTrap {
  origin: string;
  readonly requests: { method: string; url: string; authorization: string | undefined }[];
  stop(): Promise<void>;
}

export async function startCredentialTrap(): Promise<CredentialTrap> {
  const requests: CredentialTrap['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => res.writeHead(401, { 'www-authenticate': 'Basic realm="trap"', 'content-length': '0' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
