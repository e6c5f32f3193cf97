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

export interface FaultProxy {
  /** Same path layout as the upstream: swap the origin of a URL. */
  origin: string;
  inject(fault: ProxyFault): void;
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
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    inject: (fault) => faults.push({ ...fault }),
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
