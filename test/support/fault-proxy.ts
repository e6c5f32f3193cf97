import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Which requests a fault applies to, and what happens to them. */
export interface ProxyFault {
  method?: string;
  /** The request path contains this. */
  pathIncludes?: string;
  /** Answer with this status instead of forwarding… */
  status?: number;
  /** …or cut the connection without an answer. */
  reset?: boolean;
  /** How many matching requests it applies to. */
  times: number;
}

/** Random faults on a share of all requests (the soak): a seeded `random` makes a run repeatable. */
export interface ProxyChaos {
  /** Share of requests that get a fault, 0–1. */
  rate: number;
  random: () => number;
}

export type ChaosKind = 'status503' | 'status500' | 'reset' | 'delay' | 'truncate';

export interface FaultProxy {
  /** Same path layout as the upstream: swap the origin of a URL. */
  origin: string;
  inject(fault: ProxyFault): void;
  /** Random faults from now on; `undefined` stops them. */
  chaos(settings: ProxyChaos | undefined): void;
  /** Faults injected so far, by kind. */
  readonly injected: Record<ChaosKind, number>;
  /** Requests seen (faulted ones included), as `METHOD path`. */
  readonly log: string[];
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on a free loopback port in front of a real WebDAV server, answering chosen requests
 * with 503, 423 or a reset: the server's own behaviour for everything else stays real.
 */
export async function startFaultProxy(upstreamOrigin: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamOrigin);
  const faults: ProxyFault[] = [];
  const log: string[] = [];
  let chaos: ProxyChaos | undefined;
  const injected: Record<ChaosKind, number> = { status503: 0, status500: 0, reset: 0, delay: 0, truncate: 0 };
  const kinds: ChaosKind[] = ['status503', 'status500', 'reset', 'delay', 'truncate'];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    const fault = faults.find(
      (f) => f.times > 0 && (!f.method || f.method === req.method) && (!f.pathIncludes || req.url?.includes(f.pathIncludes)),
    );
    if (fault) {
      fault.times--;
      req.resume();
      req.on('end', () => {
        if (fault.reset) return req.socket.destroy();
        res.writeHead(fault.status ?? 503, { 'content-length': '0', date: new Date().toUTCString() }).end();
      });
      return;
    }
    const kind = chaos && chaos.random() < chaos.rate ? kinds[Math.floor(chaos.random() * kinds.length)]! : undefined;
    if (kind) injected[kind]++;
    if (kind === 'status503' || kind === 'status500' || kind === 'reset') {
      req.resume();
      req.on('end', () => {
        if (kind === 'reset') return req.socket.destroy();
        res.writeHead(kind === 'status503' ? 503 : 500, { 'content-length': '0', date: new Date().toUTCString() }).end();
      });
      return;
    }
    const send = () => {
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          const length = Number(answer.headers['content-length']);
          if (kind === 'truncate' && length > 1) {
            // Half the body, then the connection drops: a torn read.
            let sent = 0;
            answer.on('data', (chunk: Buffer) => {
              if (sent >= length / 2) return;
              res.write(chunk.subarray(0, Math.max(0, Math.floor(length / 2) - sent)));
              sent += chunk.length;
              if (sent >= length / 2) res.socket?.destroy();
            });
            return;
          }
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    };
    if (kind === 'delay') setTimeout(send, 50 + Math.floor((chaos?.random() ?? 0) * 250));
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    inject: (fault) => faults.push({ ...fault }),
    chaos: (settings) => {
      chaos = settings;
    },
    injected,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
