/**
 * `node --import tsx bench/login-flood.ts [--repo <checkout>] [--attackers 32] [--seconds 5] [--mb 4]`:
 * does a flood of wrong-password logins starve file I/O? Starts `docsync serve` from `<checkout>`'s
 * sources (default: this one) in a child process, uploads a file, then times `GET /health` and the
 * file's download alone and while `attackers` clients, each from its own loopback address and with
 * ever new usernames (so no throttle ever sees a repeat), keep a wrong-password login in flight.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './server.ts';
import type { Table } from './table.ts';

export interface Timing {
  runs: number;
  medianMs: number;
  maxMs: number;
}

export interface FloodReport {
  idle: { health: Timing; download: Timing };
  flooded: { health: Timing; download: Timing };
  /** Login answers during the flood, by status code. */
  logins: Record<number, number>;
}

interface Answer {
  status: number;
  bytes: number;
  ms: number;
}

function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent; localAddress?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent, localAddress: options.localAddress }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.timeoutMs !== undefined) {
      const timer = setTimeout(() => req.destroy(new Error(`${url} took more than ${options.timeoutMs} ms`)), options.timeoutMs);
      req.on('close', () => clearTimeout(timer));
    }
    req.end(options.body);
  });
}

function timing(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    medianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    maxMs: Math.round(sorted[sorted.length - 1] ?? 0),
  };
}

/** Alternates /health and the download for `ms` milliseconds, one request at a time. */
async function sample(baseUrl: string, auth: Record<string, string>, fileId: string, size: number, ms: number, timeoutMs?: number) {
  const health: number[] = [];
  const download: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until || download.length === 0) {
    const h = await request(`${baseUrl}/api/v1/health`, { timeoutMs });
    if (h.status !== 200) throw new Error(`health answered ${h.status}`);
    health.push(h.ms);
    const d = await request(`${baseUrl}/api/v1/files/${fileId}/content`, { headers: auth, timeoutMs });
    if (d.status !== 200 || d.bytes !== size) throw new Error(`download answered ${d.status} with ${d.bytes} bytes`);
    download.push(d.ms);
  }
  return { health: timing(health), download: timing(download) };
}

/** Uploads `mb` MiB and measures with and without `attackers` concurrent wrong-password logins. */
export async function measureLoginFlood(
  baseUrl: string,
  auth: Record<string, string>,
  options: { attackers: number; seconds: number; mb: number; /** Give up on one timed request after this long. */ timeoutMs?: number },
): Promise<FloodReport> {
  const size = options.mb * 1024 * 1024;
  const fileId = await uploadFile(baseUrl, auth, size);
  const idle = await sample(baseUrl, auth, fileId, size, 1000);

  const logins: Record<number, number> = {};
  let stop = false;
  const attackers = Array.from({ length: options.attackers }, async (_, i) => {
    const localAddress = `127.0.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let n = 0; !stop; n++) {
      const answer = await request(`${baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        agent,
        localAddress,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: `ghost-${i}-${n}`, password: 'not the password' }),
      }).catch(() => ({ status: 0, bytes: 0, ms: 0 }));
      logins[answer.status] = (logins[answer.status] ?? 0) + 1;
      // A refused attempt comes back at once: a real attacker would retry at once too, but here that
      // would measure a flood of tiny requests (any endpoint's problem), not the hashing.
      if (answer.status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    agent.destroy();
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    const flooded = await sample(baseUrl, auth, fileId, size, options.seconds * 1000, options.timeoutMs);
    return { idle, flooded, logins };
  } finally {
    stop = true;
    await Promise.all(attackers);
  }
}

async function uploadFile(baseUrl: string, auth: Record<string, string>, size: number): Promise<string> {
  const boundary = '----login-flood';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="flood.pdf"\r\nContent-Type: application/pdf\r\n\r\n`),
    Buffer.alloc(size, 7),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await fetch(`${baseUrl}/api/v1/files`, {
    method: 'POST',
    headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { stable_id: string }).stable_id;
}

export interface LoginFloodOptions {
  /** The checkout whose sources are served (the reference build can be another worktree). */
  repo: string;
  attackers: number;
  seconds: number;
  mb: number;
}

/** Starts `docsync serve` from `options.repo`, measures a login flood against it, and stops it. */
export async function runLoginFlood(options: LoginFloodOptions): Promise<FloodReport> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-flood-'));
  const port = await freePort();
  const password = 'flood bench password';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(options.repo, 'src/cli/main.ts'), 'serve'], {
    cwd: options.repo,
    env: { PATH: process.env.PATH, DOCSYNC_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', DOCSYNC_ADMIN_PASSWORD: password, DOCSYNC_SYNC_INTERVAL: '0', DOCSYNC_REMOTE: 'none', DOCSYNC_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${baseUrl}/api/v1/health`).catch(() => undefined))?.ok) break;
      if (i > 300) throw new Error('server did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    const auth = { 'x-session-id': ((await login.json()) as { sessionId: string }).sessionId };
    return await measureLoginFlood(baseUrl, auth, { ...options, timeoutMs: 60_000 });
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Target: under a flood, a download stays under 1 s (median) and /health under 250 ms. */
export async function benchLoginFlood(options: Omit<LoginFloodOptions, 'repo'>, log: (line: string) => void): Promise<Table> {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  log(`login flood: ${options.attackers} attackers, ${options.mb} MiB download, ${options.seconds} s`);
  const report = await runLoginFlood({ repo, ...options });
  const ms = (t: Timing) => [`${t.medianMs.toFixed(0)}`, `${t.maxMs.toFixed(0)}`, String(t.runs)];
  return {
    title: `Login flood: ${options.attackers} clients keep a wrong-password login in flight (each its own address)`,
    columns: ['request', 'median ms', 'max ms', 'runs', 'target'],
    textColumns: [0, 4],
    rows: [
      { cells: ['GET /health, idle', ...ms(report.idle.health), ''] },
      { cells: [`${options.mb} MiB download, idle`, ...ms(report.idle.download), ''] },
      { cells: ['GET /health, flooded', ...ms(report.flooded.health), '< 250 ms'], ok: report.flooded.health.medianMs < 250 },
      { cells: [`${options.mb} MiB download, flooded`, ...ms(report.flooded.download), '< 1000 ms'], ok: report.flooded.download.medianMs < 1000 },
    ],
    notes: [
      `login answers during the flood: ${Object.entries(report.logins).map(([status, n]) => `${n} × ${status}`).join(', ')}`,
      'reference: node --import tsx bench/login-flood.ts --repo <older checkout> measures another build the same way',
    ],
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repo: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
      attackers: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '5' },
      mb: { type: 'string', default: '4' },
    },
  });
  const report = await runLoginFlood({ repo: values.repo, attackers: Number(values.attackers), seconds: Number(values.seconds), mb: Number(values.mb) });
  console.log(`repo ${values.repo}: ${values.attackers} attackers, ${values.mb} MiB download, ${values.seconds} s`);
  console.log(JSON.stringify(report, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
