import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteUnavailableError } from '../../src/remote/errors.ts';
import { RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

/** Real servers behind a proxy that answers chosen requests with 503/423 or cuts them. */
describe.each(webDavKindsForTests())('WebDavRemote retries on %s', (kind) => {
  let server: WebDavTestServer;
  let proxy: FaultProxy;
  const delays: number[] = [];
  let remote: RetryingRemote;
  beforeAll(async () => {
    server = await startWebDavServer(kind);
    proxy = await startFaultProxy(new URL(server.baseUrl).origin);
    const viaProxy = server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin);
    const inner = new WebDavRemote({ baseUrl: viaProxy, username: server.username, password: server.password, remoteRoot: '/faults' });
    remote = new RetryingRemote(inner, { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 }, async (ms) => {
      delays.push(ms);
    });
    await remote.mkdir('');
  });
  afterAll(async () => {
    await proxy.stop();
    await server.stop();
  });

  const count = (method: string, path: string) => proxy.log.filter((l) => l === `${method} ${path}`).length;

  it('retries a PUT answered 503 twice, and the file arrives once', async () => {
    delays.length = 0;
    proxy.inject({ method: 'PUT', pathIncludes: 'a.txt', status: 503, times: 2 });
    await remote.put('a.txt', Buffer.from('after two 503s'));
    expect((await remote.getBytes('a.txt'))?.toString()).toBe('after two 503s');
    expect(count('PUT', '/dav/faults/a.txt')).toBe(3);
    expect(delays).toEqual([5, 10]);
  });

  it('retries a GET answered 423 (Nextcloud-style lock) and never reads it as absent', async () => {
    await remote.put('b.txt', Buffer.from('locked for a while'));
    proxy.inject({ method: 'GET', pathIncludes: 'b.txt', status: 423, times: 2 });
    expect((await remote.getBytes('b.txt'))?.toString()).toBe('locked for a while');
    proxy.inject({ method: 'GET', pathIncludes: 'b.txt', status: 423, times: 10 });
    await expect(remote.getBytes('b.txt')).rejects.toBeInstanceOf(RemoteUnavailableError);
  });

  it('retries a connection reset on PROPFIND and on MKCOL', async () => {
    await remote.put('c.txt', Buffer.from('c'));
    proxy.inject({ method: 'PROPFIND', pathIncludes: 'c.txt', reset: true, times: 1 });
    expect((await remote.stat('c.txt'))?.size).toBe(1);
    proxy.inject({ method: 'MKCOL', pathIncludes: 'sub', status: 502, times: 1 });
    expect(await remote.mkdir('sub')).toBe('created');
  });

  it('does not retry a 404: absent is an answer', async () => {
    const before = proxy.log.length;
    expect(await remote.getBytes('never-written.txt')).toBeUndefined();
    expect(proxy.log.length - before).toBe(1);
  });
});
