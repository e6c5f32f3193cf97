import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { openDocsync, type Docsync, type DocsyncOptions } from '../../src/docsync.ts';
import { buildApp } from '../../src/http/app.ts';

export const TEST_PASSWORD = 'correct horse battery';

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'docsync-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface TestInstance {
  docsync: Docsync;
  clock: ManualClock;
  dataDir: string;
  config: Config;
  cleanup(): void;
}

/** One docsync instance on a real SQLite file in a temp data dir, with a manual clock and seeded ids. */
export function createInstance(env: Record<string, string> = {}, seed = 1, options: DocsyncOptions = {}): TestInstance {
  const tmp = tempDir();
  const config = loadConfig({ DOCSYNC_DATA_DIR: tmp.dir, DOCSYNC_LOG_LEVEL: 'silent', DOCSYNC_REMOTE: 'none', ...env }, {}, tmp.dir);
  const clock = new ManualClock();
  const docsync = openDocsync(config, { clock, ids: seededIdSource(seed), ...options });
  return {
    docsync,
    clock,
    dataDir: tmp.dir,
    config,
    cleanup: () => {
      docsync.close();
      tmp.remove();
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof buildApp>>;

export interface HttpInstance extends TestInstance {
  app: TestApp;
  /** Headers of a logged-in `admin` session. */
  auth: { 'x-session-id': string };
  close(): Promise<void>;
}

/** An instance with its Fastify app (for `inject`) and a logged-in admin session. */
export async function createHttpInstance(env: Record<string, string> = {}): Promise<HttpInstance> {
  const instance = createInstance(env);
  await instance.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(instance.docsync);
  const login = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: 'admin', password: TEST_PASSWORD },
  });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`);
  return {
    ...instance,
    app,
    auth: { 'x-session-id': login.json<{ sessionId: string }>().sessionId },
    close: async () => {
      await app.close();
      instance.cleanup();
    },
  };
}

/** A multipart/form-data body built by hand, so tests control every byte (and can send bad ones). */
export function multipart(
  parts: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>,
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----docsync-test-boundary';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.type) head += `Content-Type: ${part.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** Upload helper: a file part plus optional fields. */
export function uploadBody(
  filename: string,
  content: string | Buffer,
  fields: Record<string, string> = {},
): { payload: Buffer; headers: Record<string, string> } {
  return multipart([
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    { name: 'file', value: content, filename, type: 'application/octet-stream' },
  ]);
}
