import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createInstance, TEST_PASSWORD, type TestInstance } from '../support/instance.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Over a real socket: streaming uploads and downloads, which `inject` does not exercise. */
describe('HTTP server on a real port', () => {
  let t: TestInstance;
  let server: RunningServer;
  let session: Record<string, string>;
  beforeAll(async () => {
    t = createInstance({ PORT: '0', DOCSYNC_MAX_UPLOAD_MB: '16' });
    await t.docsync.auth.ensureAdmin(TEST_PASSWORD);
    server = await startServer(t.docsync);
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_PASSWORD }),
    });
    session = { 'x-session-id': ((await login.json()) as { sessionId: string }).sessionId };
  });
  afterAll(async () => {
    await server.close();
    t.cleanup();
  });

  it('round-trips 12 MB through multipart upload and streamed download', async () => {
    const content = randomBytes(12 * 1024 * 1024);
    const form = new FormData();
    form.set('labels', '["big"]');
    form.set('file', new Blob([content]), 'scan.pdf');
    const res = await fetch(`${server.url}/api/v1/files`, { method: 'POST', headers: session, body: form });
    expect(res.status).toBe(201);
    const file = (await res.json()) as { stable_id: string; hash: string; size: number };
    expect(file.hash).toBe(sha256(content));
    expect(file.size).toBe(content.length);

    const download = await fetch(`${server.url}/api/v1/files/${file.stable_id}/content`, { headers: session });
    expect(download.headers.get('content-length')).toBe(String(content.length));
    expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(file.hash);
  });

  it('replaces content from a streamed raw body', async () => {
    const created = await t.docsync.files.create((await import('node:stream')).Readable.from([Buffer.from('v1')]), {
      filename: 'v.bin',
    });
    const chunks = [randomBytes(1 << 20), randomBytes(1 << 20), randomBytes(1 << 20)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/api/v1/files/${created.stable_id}/content`, {
      method: 'PUT',
      headers: { ...session, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { hash: string }).hash).toBe(sha256(Buffer.concat(chunks)));
  });

  it('cuts off an upload over the limit with 413 even without a declared length', async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 20 * 1024 * 1024) return controller.close();
        sent += 1 << 20;
        controller.enqueue(new Uint8Array(1 << 20));
      },
    });
    const created = await t.docsync.files.create((await import('node:stream')).Readable.from([Buffer.from('v1')]), {
      filename: 'w.bin',
    });
    const res = await fetch(`${server.url}/api/v1/files/${created.stable_id}/content`, {
      method: 'PUT',
      headers: { ...session, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error);
    // The server may close the connection while the client is still sending: either way nothing is stored.
    if (res instanceof Response) expect(res.status).toBe(413);
    expect(t.docsync.files.get(created.stable_id).size).toBe(2);
  });
});
