/**
 * docsync behind Debian's nginx with TLS, at https://localhost:PORT/docsync/, through the site
 * config the repository ships (deploy/nginx-docsync.conf): the session cookie is Secure, the page
 * and its API calls work under the sub-path, live events stream without buffering, and the login
 * throttle counts the client's address rather than the proxy's.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { tempDir, TEST_PASSWORD, uploadBody } from '../support/instance.ts';
import { httpsRequest, missingProxyParts, startTlsProxy, type TlsProxy } from '../support/tls-proxy.ts';

const WEB_INDEX = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));

const missing = missingProxyParts();
if (missing.length > 0) {
  const message = `TLS reverse-proxy test NOT RUN: missing ${missing.join(', ')} (scripts/install-system-deps.sh)`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires it. ${message}`);
  console.warn(`\n${'!'.repeat(78)}\n!!! ${message}\n${'!'.repeat(78)}\n`);
}

describe.skipIf(missing.length > 0)('docsync behind nginx with TLS, under /docsync/', () => {
  let tmp: ReturnType<typeof tempDir>;
  let docsync: Docsync;
  let server: RunningServer;
  let proxy: TlsProxy;
  const at = (route: string) => `${proxy.origin}/docsync${route}`;
  const request = (route: string, options: Omit<Parameters<typeof httpsRequest>[1], 'ca'> = {}) =>
    httpsRequest(at(route), { ca: proxy.ca, ...options });
  const login = (password: string, localAddress?: string) =>
    request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: proxy.origin },
      body: JSON.stringify({ username: 'admin', password }),
      ...(localAddress && { localAddress }),
    });

  beforeAll(async () => {
    tmp = tempDir();
    const config = loadConfig({
      DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data'),
      DOCSYNC_REMOTE: pathToFileURL(path.join(tmp.dir, 'remote')).href,
      PORT: '0',
      DOCSYNC_LOG_LEVEL: 'silent',
      DOCSYNC_SYNC_INTERVAL: '0',
      // nginx connects from 127.0.0.1: only its X-Forwarded-* headers are believed.
      DOCSYNC_TRUST_PROXY: '127.0.0.1',
    });
    fs.mkdirSync(path.join(tmp.dir, 'remote'));
    docsync = openDocsync(config);
    await docsync.auth.ensureAdmin(TEST_PASSWORD);
    server = await startServer(docsync);
    proxy = await startTlsProxy(Number(new URL(server.url).port));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.close();
    tmp?.remove();
  });

  it('redirects /docsync to /docsync/', async () => {
    const bare = await request('');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe(`${proxy.origin}/docsync/`);
  });

  it('login over HTTPS sets the session cookie Secure, HttpOnly and scoped to /docsync/; the cookie then writes from the page', async () => {
    const answer = await login(TEST_PASSWORD);
    expect(answer.status, answer.body.toString()).toBe(200);
    const cookie = [answer.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('sessionId='));
    expect(cookie).toBeDefined();
    const attributes = cookie!.split(';').map((a) => a.trim().toLowerCase());
    expect(attributes).toContain('secure');
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('path=/docsync/');
    const session = cookie!.split(';')[0]!;

    // A cookie-authenticated write passes the origin check only if docsync sees https://localhost:PORT
    // as its own origin: scheme from X-Forwarded-Proto, host and port from Host.
    const upload = uploadBody('behind-nginx.txt', 'through TLS');
    const created = await request('/api/v1/files', {
      method: 'POST',
      headers: { ...upload.headers, cookie: session, origin: proxy.origin },
      body: upload.payload,
    });
    expect(created.status, created.body.toString()).toBe(201);
    const listed = await request('/api/v1/files?q=behind-nginx', { headers: { cookie: session } });
    expect(JSON.parse(listed.body.toString()).files.map((f: { filename: string }) => f.filename)).toEqual(['behind-nginx.txt']);
  });

  it('serves the page under /docsync/ with its assets, whose API base is relative', async () => {
    if (!fs.existsSync(WEB_INDEX)) throw new Error(`the web page is not built (${WEB_INDEX}): run npm run build:web`);
    const page = await request('/');
    expect(page.status).toBe(200);
    const html = page.body.toString();
    const assets = [...html.matchAll(/(?:src|href)="([^"]*assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      // Absolute asset URLs would leave the prefix and miss docsync.
      expect(asset.startsWith('/'), asset).toBe(false);
      const url = new URL(asset, `${proxy.origin}/docsync/`);
      expect(url.pathname.startsWith('/docsync/assets/')).toBe(true);
      const got = await httpsRequest(url.href, { ca: proxy.ca });
      expect(got.status, url.href).toBe(200);
      if (asset.endsWith('.js')) {
        const code = got.body.toString();
        expect(code).toContain('"api/v1"');
        expect(code).not.toContain('"/api/v1"');
      }
    }
    // What the page's relative `api/v1/…` resolves to from /docsync/ answers as the API.
    const health = await httpsRequest(new URL('api/v1/health', `${proxy.origin}/docsync/`).href, { ca: proxy.ca });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString()).status).toBe('ok');
  });

  it('serves the API documentation at /docsync/docs/, its assets and the OpenAPI document under the prefix', async () => {
    const docs = await request('/docs/');
    expect(docs.status).toBe(200);
    const assets = [...docs.body.toString().matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      const got = await httpsRequest(new URL(asset, `${proxy.origin}/docsync/docs/`).href, { ca: proxy.ca });
      expect(got.status, asset).toBe(200);
    }
    const openapi = await httpsRequest(new URL('json', `${proxy.origin}/docsync/docs/`).href, { ca: proxy.ca });
    expect(JSON.parse(openapi.body.toString()).paths['/api/v1/files']).toBeDefined();
  });

  it('streams live events through nginx at once (X-Accel-Buffering: no)', async () => {
    const { sessionId } = JSON.parse((await login(TEST_PASSWORD)).body.toString()) as { sessionId: string };
    const events: Array<{ name: string; at: number }> = [];
    const stream = https.get(at('/api/v1/sse/subscribe'), { ca: proxy.ca, headers: { 'x-session-id': sessionId }, agent: false });
    try {
      const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        stream.on('response', resolve).on('error', reject);
        // A buffering proxy holds even the headers until its buffer fills.
        setTimeout(() => reject(new Error('no answer to the SSE request within 5 s: nginx buffers the stream')), 5000);
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        for (const match of text.matchAll(/^event: (\w+)$/gm)) events.push({ name: match[1]!, at: Date.now() });
        text = text.slice(text.lastIndexOf('\n') + 1);
      });
      const waitFor = async (name: string, withinMs: number) => {
        const deadline = Date.now() + withinMs;
        while (!events.some((e) => e.name === name)) {
          if (Date.now() > deadline) throw new Error(`no '${name}' event within ${withinMs} ms; got ${events.map((e) => e.name).join(', ') || 'nothing'}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return events.find((e) => e.name === name)!;
      };
      // Each event is a few hundred bytes: a buffering proxy would hold them until its 4–8 KiB buffer filled.
      await waitFor('connected', 5000);
      const sync = await request('/api/v1/sync', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-id': sessionId },
        body: '{}',
      });
      const answered = Date.now();
      expect(sync.status, sync.body.toString()).toBe(200);
      // docsync publishes the event just before it answers the request: both pass nginx together.
      const complete = await waitFor('syncComplete', 5000);
      expect(complete.at - answered).toBeLessThan(1500);
    } finally {
      stream.destroy();
    }
  });

  it("the login throttle counts the client's address from X-Forwarded-For, not nginx's", async () => {
    // Five failures from 127.0.0.2 earn that address a pause for admin…
    for (let i = 0; i < 5; i++) expect((await login('wrong password', '127.0.0.2')).status).toBe(401);
    const throttled = await login(TEST_PASSWORD, '127.0.0.2');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBeDefined();
    // …while the same user from another address is let in at once: docsync tells them apart
    // although every request reaches it from nginx at 127.0.0.1.
    expect((await login(TEST_PASSWORD, '127.0.0.3')).status).toBe(200);
  });
});
