import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { capStream, guardBody, readCapped, watchRequest, withinBudget, type ReadLimits } from '../../src/remote/bounded-read.ts';
import { RemoteCorruptError, RemoteUnavailableError } from '../../src/remote/errors.ts';

const LIMITS: ReadLimits = { headerMs: 200, idleMs: 200, afterUploadMs: 300 };

/** A real HTTP server on loopback whose handler each test writes. */
let server: http.Server | undefined;
async function serve(handler: http.RequestListener): Promise<number> {
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
afterEach(async () => {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** One bounded exchange: resolves with the answer, rejects with what the watchdog said. */
function exchange(port: number, options: { method?: string; upload?: Readable } = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/x', method: options.method ?? 'GET' }, resolve);
    watchRequest(req, LIMITS, 'GET x', options.upload);
    req.once('error', reject);
    if (options.upload) options.upload.pipe(req);
    else req.end();
  });
}

const timed = async <T>(work: Promise<T>): Promise<{ ms: number; result: T | unknown }> => {
  const started = Date.now();
  const result = await work.catch((error: unknown) => error);
  return { ms: Date.now() - started, result };
};

describe('bounded reads against a local server', () => {
  it('a server that accepts and never answers: the header deadline ends the request', async () => {
    const port = await serve(() => undefined);
    const { ms, result } = await timed(exchange(port));
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect((result as Error).message).toBe('The WebDAV server did not answer within 0.2 s (GET x)');
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
  });

  it('headers, some bytes, then silence: the idle timeout fails the body', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100));
    });
    const res = await exchange(port);
    const { ms, result } = await timed(readCapped(guardBody(res, LIMITS.idleMs, 'GET x'), 10_000, 'GET x'));
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect((result as Error).message).toMatch(/sent nothing for 0\.2 s in the middle of the body \(GET x\)/);
    expect(ms).toBeLessThan(1500);
  });

  it('a slow but steady body is never cut off: idle, not a total deadline', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200);
      let sent = 0;
      const tick = setInterval(() => {
        res.write(Buffer.alloc(10, sent));
        if (++sent === 12) {
          clearInterval(tick);
          res.end();
        }
      }, 80);
    });
    const { ms, result } = await timed(readCapped(guardBody(await exchange(port), LIMITS.idleMs, 'GET x'), 10_000, 'GET x'));
    expect(result).toEqual(Buffer.concat(Array.from({ length: 12 }, (_, i) => Buffer.alloc(10, i))));
    expect(ms).toBeGreaterThan(LIMITS.idleMs * 3); // far longer than the idle timeout, in all
  });

  it('a reader that stops reading for a while is not the server stalling', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const port = await serve((_req, res) => res.end(big));
    const body = guardBody(await exchange(port), LIMITS.idleMs, 'GET x');
    const chunks: Buffer[] = [];
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      // Busy elsewhere for longer than the idle timeout, twice.
      if (chunks.length <= 2) await new Promise((resolve) => setTimeout(resolve, LIMITS.idleMs * 2));
    }
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });

  it('a Content-Length over the cap fails at once, before any byte is read', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    });
    const res = await exchange(port);
    expect(() => guardBody(res, LIMITS.idleMs, 'GET x', 1000)).toThrow(
      new RemoteCorruptError('GET x is larger than the 1000 bytes it may have (it announces 10485760); the read was cut off'),
    );
    expect(res.destroyed).toBe(true);
  });

  it('a connection that breaks off mid-body is a retryable error naming the read', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const error = await readCapped(guardBody(await exchange(port), LIMITS.idleMs, 'GET x'), 10_000, 'GET x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteUnavailableError);
    expect((error as Error).message).toBe('The connection broke off while reading GET x');
  });

  it('an endless chunked body is cut off at the cap, one byte over', async () => {
    let written = 0;
    const port = await serve((_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (res.write(Buffer.alloc(16 * 1024))) written += 16 * 1024;
        res.once('drain', pump);
      };
      pump();
    });
    const body = guardBody(await exchange(port), LIMITS.idleMs, 'GET x', 100_000);
    const error = await readCapped(body, Number.POSITIVE_INFINITY, 'GET x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCorruptError);
    expect((error as Error).message).toMatch(/larger than the 100000 bytes/);
    expect(written).toBeLessThan(20 * 1024 * 1024); // the server was stopped, not drained
  });

  it('exactly the cap passes', async () => {
    const port = await serve((_req, res) => res.end(Buffer.alloc(1000, 1)));
    const body = guardBody(await exchange(port), LIMITS.idleMs, 'GET x', 1000);
    expect((await readCapped(body, 1000, 'GET x')).length).toBe(1000);
  });

  it('an upload the server does not read: the upload idle timeout', async () => {
    const port = await serve(() => undefined); // never reads the request body
    const upload = Readable.from((function* () {
      for (let i = 0; i < 10_000; i++) yield Buffer.alloc(64 * 1024);
    })());
    const { ms, result } = await timed(exchange(port, { method: 'PUT', upload }));
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect((result as Error).message).toMatch(/took no upload data for 0\.2 s/);
    expect(ms).toBeLessThan(3000);
  });

  it('an upload read whole, then no answer: the deadline after the upload', async () => {
    const port = await serve((req) => req.resume());
    const upload = Readable.from([Buffer.alloc(100_000)]);
    const { ms, result } = await timed(exchange(port, { method: 'PUT', upload }));
    expect((result as Error).message).toMatch(/did not answer within 0\.3 s of the upload/);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2000);
  });
});

describe('caps without a network', () => {
  it('capStream cuts any stream one byte over its cap', async () => {
    const source = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    await expect(readCapped(capStream(source, 1000, 'GET f'), Number.POSITIVE_INFINITY, 'GET f')).rejects.toBeInstanceOf(RemoteCorruptError);
    expect((await readCapped(capStream(Readable.from([Buffer.alloc(1000)]), 1000, 'GET f'), 1000, 'GET f')).length).toBe(1000);
  });

  it('withinBudget: the work if it is in time, a retryable error naming the budget if not', async () => {
    expect(await withinBudget(Promise.resolve(5), 100, 'late')).toBe(5);
    const never = new Promise<number>(() => undefined);
    const { ms, result } = await timed(withinBudget(never, 100, 'The remote did not answer within 0.1 s'));
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect((result as Error).message).toBe('The remote did not answer within 0.1 s');
    expect(ms).toBeLessThan(1000);
  });
});
