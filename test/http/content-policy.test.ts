import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/domain/file.ts';
import { API_PREFIX } from '../../src/http/app.ts';
import { createHttpInstance, TEST_PASSWORD, uploadBody, type HttpInstance } from '../support/instance.ts';

/** README.md#security: content is never executed on docsync's origin; every answer carries the security headers. */
describe('serving content and security headers', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance();
  });
  afterAll(() => h.close());

  const upload = async (filename: string, content: string | Buffer): Promise<FileRecord> => {
    const body = uploadBody(filename, content);
    const res = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/files`, payload: body.payload, headers: { ...h.auth, ...body.headers } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<FileRecord>();
  };
  const content = (id: string) => h.app.inject({ method: 'GET', url: `${API_PREFIX}/files/${id}/content`, headers: h.auth });

  it.each([
    ['evil.html', '<script>alert(1)</script>', 'text/html', 'attachment'],
    ['evil.htm', '<script>alert(1)</script>', 'text/html', 'attachment'],
    ['evil.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml', 'attachment'],
    ['evil.xml', '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>', 'application/xml', 'attachment'],
    ['paper.tei.xml', '<TEI/>', 'application/xml', 'attachment'],
    ['evil.xhtml', '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>', 'application/xhtml+xml', 'attachment'],
    ['evil.js', 'alert(1)', 'text/javascript', 'attachment'],
    ['no-extension', '<script>alert(1)</script>', 'application/octet-stream', 'attachment'],
    ['weird.zzzunknown', '<script>alert(1)</script>', 'application/octet-stream', 'attachment'],
    ['paper.pdf', '%PDF-1.4\n', 'application/pdf', 'inline'],
    ['photo.png', Buffer.from('89504e470d0a1a0a', 'hex'), 'image/png', 'inline'],
    ['photo.jpg', Buffer.from('ffd8ffe0', 'hex'), 'image/jpeg', 'inline'],
    ['photo.webp', 'RIFF', 'image/webp', 'inline'],
    ['notes.txt', '<script>alert(1)</script>', 'text/plain; charset=utf-8', 'inline'],
  ])('%s is served as %s, %s, with nosniff and a sandbox CSP', async (filename, body, type, disposition) => {
    const file = await upload(filename, body);
    const res = await content(file.stable_id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(String(res.headers['content-disposition'])).toMatch(new RegExp(`^${disposition}; filename=`));
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);
  });

  it.each([
    ['paper.pdf', '%PDF-1.4\n', "frame-ancestors 'self'", 'SAMEORIGIN'],
    ['photo.png', Buffer.from('89504e470d0a1a0a', 'hex'), "frame-ancestors 'self'", 'SAMEORIGIN'],
    ['notes.txt', 'plain', "frame-ancestors 'self'", 'SAMEORIGIN'],
    ['evil.html', '<script>alert(1)</script>', "frame-ancestors 'none'", 'DENY'],
    ['evil.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>', "frame-ancestors 'none'", 'DENY'],
    ['data.xml', '<a/>', "frame-ancestors 'none'", 'DENY'],
  ])('%s may be framed only as its disposition allows: %s, X-Frame-Options %s (also on a 304)', async (filename, body, ancestors, xfo) => {
    const file = await upload(filename, body);
    const res = await content(file.stable_id);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/^sandbox; /);
    expect(csp.endsWith(ancestors)).toBe(true);
    expect(res.headers['x-frame-options']).toBe(xfo);
    const cached = await h.app.inject({
      method: 'GET',
      url: `${API_PREFIX}/files/${file.stable_id}/content`,
      headers: { ...h.auth, 'if-none-match': `"${file.hash}"` },
    });
    expect(cached.statusCode).toBe(304);
    expect(String(cached.headers['content-security-policy']).endsWith(ancestors)).toBe(true);
    expect(cached.headers['x-frame-options']).toBe(xfo);
  });

  it('ignores the stored mime_type: a .txt row claiming text/html is still plain text', async () => {
    const file = await upload('innocent.txt', '<script>alert(1)</script>');
    h.docsync.db.prepare('UPDATE files SET mime_type = ? WHERE stable_id = ?').run('text/html', file.stable_id);
    const res = await content(file.stable_id);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('keeps the policy on range and not-modified answers', async () => {
    const file = await upload('range.html', '<script>alert(1)</script>');
    const ranged = await h.app.inject({ method: 'GET', url: `${API_PREFIX}/files/${file.stable_id}/content`, headers: { ...h.auth, range: 'bytes=0-7' } });
    expect(ranged.statusCode).toBe(206);
    expect(String(ranged.headers['content-disposition'])).toMatch(/^attachment/);
    expect(ranged.headers['content-security-policy']).toMatch(/^sandbox/);
    const cached = await h.app.inject({
      method: 'GET',
      url: `${API_PREFIX}/files/${file.stable_id}/content`,
      headers: { ...h.auth, 'if-none-match': `"${file.hash}"` },
    });
    expect(cached.statusCode).toBe(304);
    expect(cached.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    ['/', 200],
    ['/docs', 200],
    ['/docs/json', 200],
    [`${API_PREFIX}/health`, 200],
    [`${API_PREFIX}/files`, 401],
    ['/no/such/route', 404],
  ])('GET %s (%i) carries nosniff, DENY framing, no-referrer and a CSP', async (url, status) => {
    const res = await h.app.inject({ method: 'GET', url });
    expect(res.statusCode === status || (url === '/docs' && res.statusCode === 302)).toBe(true);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
  });

  it('the page CSP allows no inline script; swagger-ui keeps its own policy, without upgrading to https', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/' });
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const docs = await h.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    const docsCsp = String(docs.headers['content-security-policy']);
    expect(docsCsp).toMatch(/script-src 'self'/);
    expect(docsCsp).toMatch(/script-src-attr 'none'/);
    expect(docsCsp).not.toMatch(/upgrade-insecure-requests/);
  });

  describe('Origin check on cookie-authenticated writes', () => {
    let cookie: string;
    beforeAll(async () => {
      const login = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
      cookie = `sessionId=${login.json<{ sessionId: string }>().sessionId}`;
    });
    const post = (headers: Record<string, string>) => {
      const body = uploadBody('csrf.txt', 'planted');
      return h.app.inject({ method: 'POST', url: `${API_PREFIX}/files`, payload: body.payload, headers: { host: 'docs.test:8080', ...body.headers, ...headers } });
    };
    const count = () => (h.docsync.db.prepare("SELECT COUNT(*) AS n FROM files WHERE filename = 'csrf.txt'").get() as { n: number }).n;

    it.each([
      ['another port', { origin: 'http://docs.test:8081' }],
      ['another scheme', { origin: 'https://docs.test:8080' }],
      ['another host', { origin: 'http://evil.test:8080' }],
      ['an opaque origin (sandboxed content)', { origin: 'null' }],
      ['a foreign Referer and no Origin', { referer: 'http://docs.test:9999/attack.html' }],
      ['neither Origin nor Referer', {}],
    ])('refuses a cookie POST from %s with 403', async (_name, headers) => {
      const before = count();
      const res = await post({ cookie, ...headers });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: 'cross_origin', message: expect.stringMatching(/origin/i) });
      expect(count()).toBe(before);
    });

    it('accepts a cookie POST from its own origin (Origin, or Referer when Origin is absent)', async () => {
      expect((await post({ cookie, origin: 'http://docs.test:8080' })).statusCode).toBe(201);
      expect((await post({ cookie, referer: 'http://docs.test:8080/' })).statusCode).toBe(201);
    });

    it('a cookie DELETE and PATCH from another origin are refused too; GET is not a write', async () => {
      const file = await upload('keep.txt', 'x');
      const url = `${API_PREFIX}/files/${file.stable_id}`;
      const foreign = { cookie, host: 'docs.test:8080', origin: 'http://docs.test:8081' };
      expect((await h.app.inject({ method: 'DELETE', url, headers: foreign })).statusCode).toBe(403);
      expect((await h.app.inject({ method: 'PATCH', url, headers: foreign, payload: { labels: ['x'] } })).statusCode).toBe(403);
      expect((await h.app.inject({ method: 'GET', url, headers: foreign })).statusCode).toBe(200);
    });

    it('header- and Bearer-authenticated writes need no Origin', async () => {
      expect((await post(h.auth)).statusCode).toBe(201);
      const token = h.docsync.auth.createApiToken('admin', 'origin-test');
      expect((await post({ authorization: `Bearer ${token}` })).statusCode).toBe(201);
      // A foreign Origin on a header-authenticated call is a script that already holds the secret.
      expect((await post({ ...h.auth, origin: 'http://elsewhere.test' })).statusCode).toBe(201);
    });

    it('login from another origin is refused; login with no Origin (API clients) is allowed', async () => {
      const login = (headers: Record<string, string>) =>
        h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, headers: { host: 'docs.test:8080', ...headers }, payload: { username: 'admin', password: TEST_PASSWORD } });
      const foreign = await login({ origin: 'http://docs.test:8081' });
      expect(foreign.statusCode).toBe(403);
      expect(foreign.cookies).toHaveLength(0);
      expect((await login({ origin: 'http://docs.test:8080' })).statusCode).toBe(200);
      expect((await login({})).statusCode).toBe(200);
    });
  });
});
