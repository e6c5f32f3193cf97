import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/http/app.ts';
import { createHttpInstance, tempDir, uploadBody, type HttpInstance } from '../support/instance.ts';

/** Hostile input over HTTP: each gets a clear 4xx with a message; never a 500, never lost data. */
describe('hostile HTTP input', () => {
  let h: HttpInstance;
  let remote: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    remote = tempDir();
    h = await createHttpInstance({ DOCSYNC_REMOTE: `file://${remote.dir}` });
  });
  afterAll(async () => {
    await h.close();
    remote.remove();
  });

  const send = (method: 'POST' | 'PATCH' | 'GET' | 'PUT' | 'DELETE', url: string, payload?: string | Buffer | object, headers: Record<string, string> = {}) =>
    h.app.inject({ method, url: `${API_PREFIX}${url}`, headers: { ...h.auth, ...headers }, ...(payload !== undefined && { payload: payload as string }) });
  const expectClear = (res: { statusCode: number; json: () => { error?: string; message?: string } }, status: number) => {
    expect(res.statusCode).toBe(status);
    expect(res.json().message).toEqual(expect.any(String));
    expect(res.json().message!.length).toBeGreaterThan(5);
  };
  const upload = async (name: string) => {
    const body = uploadBody(name, 'content');
    return send('POST', '/files', body.payload, body.headers);
  };

  it.each([
    ['{"labels": [', 400],
    ['{"labels": ["a"]} trailing', 400],
    ['[1,2,3]', 400],
    ['"just a string"', 400],
    ['null', 400],
  ])('malformed or wrong-shaped JSON %j → %i', async (body, status) => {
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    expectClear(await send('PATCH', `/files/${file.stable_id}`, body, { 'content-type': 'application/json' }), status);
  });

  it('oversized JSON → 413', async () => {
    const big = JSON.stringify({ metadata: { blob: 'x'.repeat(2 * 1024 * 1024) } });
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    expectClear(await send('PATCH', `/files/${file.stable_id}`, big, { 'content-type': 'application/json' }), 413);
  });

  it('deeply nested and prototype-polluting metadata is stored as data, or refused; never executed', async () => {
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    const polluting = '{"metadata": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}}';
    const res = await send('PATCH', `/files/${file.stable_id}`, polluting, { 'content-type': 'application/json' });
    expect([200, 400]).toContain(res.statusCode);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    let nested = '1';
    for (let i = 0; i < 5000; i++) nested = `{"a":${nested}}`;
    const deep = await send('PATCH', `/files/${file.stable_id}`, `{"metadata":${nested}}`, { 'content-type': 'application/json' });
    expectClear(deep, 400);
    expect(deep.json().message).toBe('metadata must be nested at most 32 levels deep');
  });

  it.each([
    ['a'.repeat(300), 400, /at most 255/],
    ['nul\u0000byte.txt', 400, /control characters/],
    // A raw newline breaks the multipart header itself: refused before docsync sees a name.
    ['new\nline.txt', 400, /multipart field 'file' is required|control characters/],
  ])('filename %j → %i', async (name, status, message) => {
    const res = await upload(name);
    expectClear(res, status);
    expect(res.json().message).toMatch(message);
  });

  it.each(['日本語のファイル.pdf', '../../etc/passwd', '..', 'emoji 😀 file.txt', '<img src=x onerror=alert(1)>.html'])(
    'odd but valid filename %j is stored as given',
    async (name) => {
      const res = await upload(name);
      expect(res.statusCode, res.body).toBe(201);
      const file = res.json<{ stable_id: string; filename: string }>();
      expect(file.filename).toBe(name);
      expect((await send('GET', `/files/${file.stable_id}`)).json().filename).toBe(name);
    },
  );

  it('a rename to a Windows-looking path is stored as a name', async () => {
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    const res = await send('PATCH', `/files/${file.stable_id}`, { filename: 'C:\\Windows\\win.ini' });
    expect(res.statusCode).toBe(200);
    expect(res.json().filename).toBe('C:\\Windows\\win.ini');
  });

  it.each([
    [{ labels: 5 }, /body\/labels must be array/],
    [{ collections: [{}] }, /body\/collections\/0 must be string/],
    [{ doc_id: ['x'] }, /body\/doc_id/],
    [{ filename: 7 }, /body\/filename must be string/],
  ])('wrong types %j → 400 naming the field', async (payload, message) => {
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    const res = await send('PATCH', `/files/${file.stable_id}`, payload);
    expectClear(res, 400);
    expect(res.json().message).toMatch(message);
  });

  it('an unknown resolution strategy, or resolving a file not in conflict, is refused clearly', async () => {
    const file = (await upload('a.txt')).json<{ stable_id: string }>();
    expectClear(await send('POST', '/sync/resolve-conflict', { file_id: file.stable_id, resolution: 'flip_a_coin' }), 400);
    const notInConflict = await send('POST', '/sync/resolve-conflict', { file_id: file.stable_id, resolution: 'keep_both' });
    expectClear(notInConflict, 409);
    expect(notInConflict.json().message).toMatch(/is not in conflict/);
    expectClear(await send('POST', '/sync/resolve-conflict', { file_id: '../../x', resolution: 'keep_both' }), 404);
  });

  it('concurrent sync requests join one sync: same summary, no error, nothing lost', async () => {
    await upload('concurrent.txt');
    const results = await Promise.all(Array.from({ length: 5 }, () => send('POST', '/sync', {})));
    for (const res of results) expect(res.statusCode, res.body).toBe(200);
    const summaries = results.map((r) => r.body);
    expect(new Set(summaries).size).toBe(1);
    expect((await send('GET', '/sync/status')).json().needs_sync).toBe(false);
  });
});
