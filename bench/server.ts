import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.ts';
import { BENCH_PASSWORD } from './instance.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ServerProcess {
  pid: number;
  baseUrl: string;
  /** Headers of a logged-in admin session. */
  auth: { 'x-session-id': string };
  /** How the PID was checked to be the server itself, for the report. */
  identity: string;
  /** VmRSS once it answered /health, before the login (whose scrypt leaves memory behind). */
  startRss: number;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the server binds it a moment later). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `docsync serve` as a child process, as `npm start` runs it (compiled, `npm run build`), on `env` plus a free port. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  // `serve` makes only the default data dir; a named one must exist.
  if (env.DOCSYNC_DATA_DIR) fs.mkdirSync(env.DOCSYNC_DATA_DIR, { recursive: true });
  const child = spawn(process.execPath, [...nodeFlags(), 'dist/cli/main.js', 'serve'], {
    cwd: REPO_ROOT,
    env: { ...inheritedEnv(), ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the server');
  const forget = onCleanup(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const stop = async (): Promise<void> => {
    await stopChild(child);
    forget();
  };
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(baseUrl, child, () => stderr);
    const identity = verifyServerPid(pid, port);
    const startRss = readMemory(pid).rss;
    const auth = await login(baseUrl);
    return { pid, baseUrl, auth, identity, startRss, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The caller's environment without any docsync or WebDAV settings, which would change what we measure. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(DOCSYNC_|WEBDAV_)/.test(key) && key !== 'PORT' && key !== 'HOST'),
  );
}

async function waitForHealth(baseUrl: string, child: ChildProcess, stderr: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}:\n${stderr()}`);
    try {
      const res = await fetch(`${baseUrl}/api/v1/health`);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not answer /api/v1/health within ${timeoutMs / 1000} s:\n${stderr()}`);
}

async function login(baseUrl: string): Promise<{ 'x-session-id': string }> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: BENCH_PASSWORD }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const { sessionId } = (await res.json()) as { sessionId: string };
  return { 'x-session-id': sessionId };
}

/**
 * Makes sure the RSS we sample is the server's: the PID must be the process that owns the listening
 * socket (not a wrapper that started it). Its only acceptable children are esbuild services, which
 * tsx starts to compile files missing from its cache: a compiler, not part of the server's memory.
 */
function verifyServerPid(pid: number, port: number): string {
  const cmdline = readCmdline(pid);
  const inode = listeningSocketInode(port);
  if (inode === undefined) throw new Error(`no listening socket on port ${port} in /proc/net/tcp`);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`));
  if (!fds.includes(`socket:[${inode}]`)) throw new Error(`pid ${pid} (${cmdline}) does not own the socket on port ${port}`);
  const children = childPids(pid).map(readCmdline);
  const others = children.filter((c) => !/\/esbuild --service/.test(c));
  if (others.length > 0) throw new Error(`pid ${pid} has child processes (${others.join('; ')}): RSS would miss them`);
  const program = cmdline.replace(/^\S*\/node /, 'node ');
  const extra = children.length > 0 ? `${children.length} esbuild child (tsx compiler, not counted)` : 'no child processes';
  return `pid ${pid} = \`${program}\` owns the listening socket; ${extra}`;
}

function readCmdline(pid: number | string): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
}

function childPids(pid: number): string[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
}

function listeningSocketInode(port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] = local address "0100007F:1F90", f[3] = state (0A = LISTEN), f[9] = inode.
    if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A') return f[9];
  }
  return undefined;
}

function safeReadlink(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch {
    return '';
  }
}

/** SIGTERM (the server closes the database cleanly), SIGKILL if it is still there after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** VmRSS and VmHWM (peak RSS over the process's life) in bytes, from `/proc/<pid>/status`. */
export function readMemory(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Samples VmRSS every `intervalMs` until stopped; returns the highest sample. */
export function sampleRss(pid: number, intervalMs = 50): { stop(): { peak: number; samples: number } } {
  let peak = readMemory(pid).rss;
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, readMemory(pid).rss);
    samples++;
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, readMemory(pid).rss);
      return { peak, samples: samples + 1 };
    },
  };
}

/**
 * The Node flags of `npm start` (package.json): a small young generation keeps a streaming server's
 * RSS low, its buffers being short-lived. `DOCSYNC_BENCH_NODE_FLAGS` overrides them for experiments.
 */
function nodeFlags(): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const flags = process.env.DOCSYNC_BENCH_NODE_FLAGS ?? start.split(' ').filter((w) => w.startsWith('--')).join(' ');
  return flags.split(' ').filter(Boolean);
}
