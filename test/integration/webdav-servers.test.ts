import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startWebDavServer,
  webDavKindsForTests,
  type WebDavTestServer,
} from '../support/webdav-servers.ts';

function basicAuth(server: WebDavTestServer): string {
  return `Basic ${Buffer.from(`${server.username}:${server.password}`).toString('base64')}`;
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * Whether a process of the group led by `pid` still runs. Zombies do not count: php -S exits without
 * reaping its workers, and a container's init may never reap them either; they hold no port or file.
 */
function groupAlive(pid: number): boolean {
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8'); } catch { continue; /* gone meanwhile */ }
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pid && state !== 'Z') return true;
  }
  return false;
}

const kinds = webDavKindsForTests();
// A file without any test fails in vitest; with no server installed (outside CI) report a skip.
if (kinds.length === 0) it.skip('no WebDAV server installed (see the warning above)', () => {});

describe.each(kinds)('WebDAV test server: %s', (kind) => {
  let server: WebDavTestServer;
  const body = Buffer.from(`hello from ${kind}\n\u00e9\u00e8\n`, 'utf8');

  async function dav(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = { Authorization: basicAuth(server), ...(init.headers as Record<string, string>) };
    return fetch(`${server.baseUrl}${path}`, { ...init, method, headers });
  }

  beforeAll(async () => { server = await startWebDavServer(kind); });
  afterAll(async () => { await server?.stop(); });

  it('serves under /dav with a data dir on disk', () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dav$/);
    expect(fs.statSync(server.rootDir).isDirectory()).toBe(true);
  });

  it('MKCOL creates a folder (201)', async () => {
    const res = await dav('MKCOL', '/folder/');
    expect(res.status).toBe(201);
    expect(fs.statSync(`${server.rootDir}/folder`).isDirectory()).toBe(true);
  });

  it('PUT with Content-Length stores the file (201/204)', async () => {
    const res = await dav('PUT', '/folder/file.bin', {
      body, headers: { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' },
    });
    expect([201, 204]).toContain(res.status);
    expect(fs.readFileSync(`${server.rootDir}/folder/file.bin`)).toEqual(body);
  });

  it('GET returns the same bytes', async () => {
    const res = await dav('GET', '/folder/file.bin');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
  });

  it('PROPFIND Depth 1 lists the file (207)', async () => {
    const res = await dav('PROPFIND', '/folder/', { headers: { Depth: '1' } });
    expect(res.status).toBe(207);
    const xml = await res.text();
    expect(xml).toContain('/dav/folder/file.bin');
    expect(xml).toContain(`getcontentlength>${body.length}<`);
  });

  it('DELETE removes the file (2xx), then GET is 404', async () => {
    const del = await dav('DELETE', '/folder/file.bin');
    expect(del.status).toBeGreaterThanOrEqual(200);
    expect(del.status).toBeLessThan(300);
    const get = await dav('GET', '/folder/file.bin');
    expect(get.status).toBe(404);
  });

  it('answers 401 without credentials', async () => {
    const res = await fetch(`${server.baseUrl}/folder/`, { method: 'PROPFIND', headers: { Depth: '0' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/i);
  });

  it('refuses connections, leaves no process of its group and removes its temp dir after stop()', async () => {
    const other = await startWebDavServer(kind);
    const port = Number(new URL(other.baseUrl).port);
    expect(await connectionRefused(port)).toBe(false);
    expect(groupAlive(other.pid)).toBe(true);
    await other.stop();
    expect(await connectionRefused(port)).toBe(true);
    // php -S forks its workers (PHP_CLI_SERVER_WORKERS), nginx and Apache theirs: none may outlive stop().
    expect(groupAlive(other.pid)).toBe(false);
    expect(fs.existsSync(other.rootDir)).toBe(false);
    await other.stop(); // idempotent
  });
});
