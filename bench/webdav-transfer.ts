/**
 * `webdav` section: how fast `WebDavRemote` moves files to and from a real WebDAV server (loopback
 * Apache mod_dav_fs), next to the floor (bare Node HTTP clients) and `rclone copy`, on the same
 * server and the same files. Workloads: 1,000 × 1 KiB files in docsync's shard layout (put all, get
 * all, C at a time) and one 100 MiB file (put streamed from a file, get streamed into SHA-256).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Remote } from '../src/remote/remote.ts';
import { WebDavRemote } from '../src/remote/webdav-remote.ts';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { tempDir } from './cleanup.ts';
import { fixed, type Row, type Table } from './table.ts';

export interface WebDavBenchOptions {
  /** Requests (or rclone transfers) in flight at once. */
  concurrency: number;
  /** Timed repetitions of every measurement; the table shows the median. */
  runs: number;
}

const SMALL_COUNT = 1000;
const SMALL_BYTES = 1024;
const LARGE_BYTES = 100 * 1024 * 1024;
const LARGE_NAME = '100mib.bin';
const TARGET_RATIO = 1.2;
const BENCH_FOLDER = 'bench-remote';

type Workload = 'putSmall' | 'getSmall' | 'putLarge' | 'getLarge';
const WORKLOADS: { key: Workload; label: string }[] = [
  { key: 'putSmall', label: `${fmtInt(SMALL_COUNT)} × 1 KiB put` },
  { key: 'getSmall', label: `${fmtInt(SMALL_COUNT)} × 1 KiB get` },
  { key: 'putLarge', label: '100 MiB put' },
  { key: 'getLarge', label: '100 MiB get' },
];

interface SmallFile {
  /** `ab/<sha256>.bin`, relative to the small-files folder. */
  rel: string;
  bytes: Buffer;
}

interface Fixtures {
  small: SmallFile[];
  /** Local copy of the small files in the shard layout (rclone's source). */
  smallDir: string;
  shards: string[];
  /** Folder holding only the 100 MiB file (rclone's source). */
  largeDir: string;
  largeFile: string;
  largeSha256: string;
}

/** What a timed get hands to the (untimed) verification. */
type SmallGot = { inMemory: Map<string, Buffer> } | { localDir: string };
type LargeGot = { sha256: string; size: number } | { localFile: string };

/**
 * One contender in one run, bound to its own fresh folder `<BENCH_FOLDER>/<run>-<slug>` holding
 * `small/<shard>/<sha>.bin` and `large/100mib.bin`. Each method is one timed measurement.
 */
interface Session {
  putSmall(): Promise<void>;
  getSmall(): Promise<SmallGot>;
  putLarge(): Promise<void>;
  getLarge(): Promise<LargeGot>;
  close?(): void;
}

/** One timed measurement: wall seconds, and CPU seconds of this process (the client; not rclone's). */
interface Sample {
  seconds: number;
  cpu: number;
}

interface RunState {
  contender: Contender;
  session: Session;
  /** The contender's folder on the server's disk, for verification. */
  diskDir: string;
  scratch: string;
}

interface Contender {
  label: string;
  slug: string;
  role: 'remote' | 'floor' | 'rclone';
  open(ctx: SessionContext): Session;
}

interface SessionContext {
  server: WebDavTestServer;
  fixtures: Fixtures;
  concurrency: number;
  /** `bench-remote/<run>-<slug>`, no leading or trailing slash. */
  folder: string;
  scratch: string;
  rclone: RcloneSetup;
}

export interface RcloneSetup {
  configFile: string;
  /** `rclone obscure <password>`, once the server (whose password it is) runs; never timed. */
  obscuredPassword: string;
  version: string;
}

export async function benchWebDav(options: WebDavBenchOptions, log: (line: string) => void): Promise<Table> {
  const tmp = tempDir('webdav');
  let server: WebDavTestServer | undefined;
  try {
    log('webdav: generating fixtures…');
    const fixtures = generateFixtures(tmp.dir);
    const rclone = await setupRclone(tmp.dir);
    // WebDavRemote first, then the floors and rclone.
    const contenders = baseContenders();

    const loadBefore = os.loadavg()[0]!;
    log('webdav: starting Apache…');
    server = await startWebDavServer('apache');
    await mkcol(server, BENCH_FOLDER);
    rclone.obscuredPassword = (await capture('rclone', ['obscure', server.password])).trim();

    // Untimed warm-up: one small put + get by every in-process client, so the first timed run does
    // not also pay for loading and optimizing its code (rclone is a fresh process every time anyway).
    for (const contender of contenders.filter((c) => c.role !== 'rclone')) {
      const folder = `${BENCH_FOLDER}/warmup-${contender.slug}`;
      await prepareFolder(server, folder, fixtures.shards, options.concurrency);
      const session = contender.open({ server, fixtures, concurrency: options.concurrency, folder, scratch: tmp.dir, rclone });
      try {
        await session.putSmall();
        verifyGotSmall(await session.getSmall(), fixtures);
      } finally {
        session.close?.();
        fs.rmSync(path.join(server.rootDir, folder), { recursive: true, force: true });
      }
    }
    log('webdav: warmed up (one untimed small put + get per in-process client)');

    const samples = new Map<string, Record<Workload, Sample[]>>(
      contenders.map((c) => [c.slug, { putSmall: [], getSmall: [], putLarge: [], getLarge: [] }]),
    );
    for (let run = 1; run <= options.runs; run++) {
      // Workload by workload, all contenders back to back (order rotated each run): a burst of load
      // from elsewhere on this shared machine, or a warm-up, then hits one workload of everybody
      // rather than every workload of one contender.
      const order = contenders.map((_, i) => contenders[(i + run - 1) % contenders.length]!);
      const states: RunState[] = [];
      try {
        for (const contender of order) {
          const folder = `${BENCH_FOLDER}/${run}-${contender.slug}`;
          await prepareFolder(server, folder, fixtures.shards, options.concurrency);
          const scratch = fs.mkdtempSync(path.join(tmp.dir, `got-${contender.slug}-`));
          const diskDir = path.join(server.rootDir, folder);
          states.push({ contender, diskDir, scratch, session: contender.open({ server, fixtures, concurrency: options.concurrency, folder, scratch, rclone }) });
        }
        for (const { key, label } of WORKLOADS) {
          for (const state of states) {
            // Start every measurement with no dirty pages from the one before (written back untimed).
            execFileSync('sync');
            let sample: Sample;
            try {
              sample = await measure(key, state, fixtures);
            } catch (error) {
              throw new Error(`${label} — ${state.contender.label}, run ${run}: ${(error as Error).message}`, { cause: error });
            }
            samples.get(state.contender.slug)![key].push(sample);
            log(`webdav: run ${run}/${options.runs} ${label} — ${state.contender.label}: ${fixed(sample.seconds, 3)} s (client CPU ${fixed(sample.cpu, 3)} s), verified`);
          }
        }
      } finally {
        for (const state of states) {
          state.session.close?.();
          fs.rmSync(state.diskDir, { recursive: true, force: true });
          fs.rmSync(state.scratch, { recursive: true, force: true });
        }
      }
    }
    return buildTable(contenders, samples, options, rclone.version, loadBefore);
  } finally {
    await server?.stop();
    tmp.remove();
  }
}

// ---- contenders ----

function baseContenders(): Contender[] {
  return [
    { label: 'WebDavRemote', slug: 'webdavremote', role: 'remote', open: remoteSession },
    { label: 'floor: fetch (undici)', slug: 'fetch', role: 'floor', open: fetchSession },
    { label: 'floor: http.request', slug: 'http', role: 'floor', open: httpSession },
    { label: 'rclone copy', slug: 'rclone', role: 'rclone', open: rcloneSession },
  ];
}

/** docsync's adapter, exactly as docsync uses it: a Buffer for small files, a re-openable file stream for the large one. */
function remoteSession(ctx: SessionContext): Session {
  const { server, fixtures, concurrency } = ctx;
  const remote: Remote = new WebDavRemote({ baseUrl: server.baseUrl, username: server.username, password: server.password, remoteRoot: `/${ctx.folder}` });
  return {
    putSmall: () => pool(fixtures.small, concurrency, async (f) => void (await remote.put(`small/${f.rel}`, f.bytes))),
    getSmall: async () => {
      const inMemory = new Map<string, Buffer>();
      await pool(fixtures.small, concurrency, async (f) => {
        const stream = await remote.get(`small/${f.rel}`);
        if (!stream) throw new Error(`get small/${f.rel}: absent`);
        inMemory.set(f.rel, await collect(stream));
      });
      return { inMemory };
    },
    putLarge: async () => {
      await remote.put(`large/${LARGE_NAME}`, { size: LARGE_BYTES, open: () => fs.createReadStream(fixtures.largeFile) });
    },
    getLarge: async () => {
      const stream = await remote.get(`large/${LARGE_NAME}`);
      if (!stream) throw new Error(`get large/${LARGE_NAME}: absent`);
      return hashStream(stream);
    },
  };
}

/** The floor, part 1: Node's global fetch (undici, keep-alive by default), Basic auth, Content-Length. */
function fetchSession(ctx: SessionContext): Session {
  const { fixtures, concurrency } = ctx;
  const base = `${ctx.server.baseUrl}/${ctx.folder}`;
  const authorization = basicAuth(ctx.server);
  const check = async (res: Response, what: string, ok: number[]): Promise<void> => {
    if (!ok.includes(res.status)) throw new Error(`${what} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  };
  return {
    putSmall: () =>
      pool(fixtures.small, concurrency, async (f) => {
        // undici sets Content-Length itself for a Buffer body.
        const res = await fetch(`${base}/small/${f.rel}`, {
          method: 'PUT',
          headers: { authorization, 'content-type': 'application/octet-stream' },
          body: f.bytes as Uint8Array<ArrayBuffer>,
        });
        await res.arrayBuffer();
        await check(res, `PUT ${f.rel}`, [201, 204]);
      }),
    getSmall: async () => {
      const inMemory = new Map<string, Buffer>();
      await pool(fixtures.small, concurrency, async (f) => {
        const res = await fetch(`${base}/small/${f.rel}`, { headers: { authorization } });
        await check(res, `GET ${f.rel}`, [200]);
        inMemory.set(f.rel, Buffer.from(await res.arrayBuffer()));
      });
      return { inMemory };
    },
    putLarge: async () => {
      const body = Readable.toWeb(fs.createReadStream(fixtures.largeFile)) as ReadableStream<Uint8Array>;
      // Node's fetch needs `duplex: 'half'` for a stream body; the global RequestInit type does not list it yet.
      const init: RequestInit & { duplex: 'half' } = {
        method: 'PUT',
        headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(LARGE_BYTES) },
        body,
        duplex: 'half',
      };
      const res = await fetch(`${base}/large/${LARGE_NAME}`, init);
      await res.arrayBuffer();
      await check(res, `PUT ${LARGE_NAME}`, [201, 204]);
    },
    getLarge: async () => {
      const res = await fetch(`${base}/large/${LARGE_NAME}`, { headers: { authorization } });
      await check(res, `GET ${LARGE_NAME}`, [200]);
      if (!res.body) throw new Error(`GET ${LARGE_NAME}: no body`);
      const hasher = createHash('sha256');
      let size = 0;
      const reader = res.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        hasher.update(chunk.value);
        size += chunk.value.length;
      }
      return { sha256: hasher.digest('hex'), size };
    },
  };
}

/** The floor, part 2: `http.request` on a keep-alive agent of its own, Basic auth, Content-Length. */
function httpSession(ctx: SessionContext): Session {
  const { fixtures, concurrency } = ctx;
  const base = new URL(`${ctx.server.baseUrl}/${ctx.folder}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const authorization = basicAuth(ctx.server);
  const send = (
    method: 'PUT' | 'GET',
    rel: string,
    body: Buffer | { size: number; stream: () => Readable } | undefined,
    onResponse: (res: http.IncomingMessage) => Promise<void>,
  ): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization };
      if (body) {
        headers['content-type'] = 'application/octet-stream';
        headers['content-length'] = Buffer.isBuffer(body) ? body.length : body.size;
      }
      const req = http.request({ host: base.hostname, port: base.port, path: `${base.pathname}/${rel}`, method, headers, agent }, (res) => {
        const ok = method === 'PUT' ? res.statusCode === 201 || res.statusCode === 204 : res.statusCode === 200;
        if (!ok) {
          res.resume();
          reject(new Error(`${method} ${rel} answered ${res.statusCode}`));
          return;
        }
        onResponse(res).then(resolve, reject);
      });
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else pipeline(body.stream(), req).catch(reject);
    });
  const drain = async (res: http.IncomingMessage): Promise<void> => void (await collect(res));
  return {
    putSmall: () => pool(fixtures.small, concurrency, (f) => send('PUT', `small/${f.rel}`, f.bytes, drain)),
    getSmall: async () => {
      const inMemory = new Map<string, Buffer>();
      await pool(fixtures.small, concurrency, (f) =>
        send('GET', `small/${f.rel}`, undefined, async (res) => void inMemory.set(f.rel, await collect(res))),
      );
      return { inMemory };
    },
    putLarge: () =>
      send('PUT', `large/${LARGE_NAME}`, { size: LARGE_BYTES, stream: () => fs.createReadStream(fixtures.largeFile) }, drain),
    getLarge: async () => {
      let got: LargeGot | undefined;
      await send('GET', `large/${LARGE_NAME}`, undefined, async (res) => void (got = await hashStream(res)));
      return got!;
    },
    close: () => agent.destroy(),
  };
}

/** `rclone copy` with its defaults except `--transfers C`; each command timed whole, process start included. */
function rcloneSession(ctx: SessionContext): Session {
  const { fixtures, concurrency, server, folder, scratch, rclone } = ctx;
  const remote = (sub: string): string => `:webdav:${folder}/${sub}`;
  const run = (from: string, to: string): Promise<void> =>
    runRclone(rclone, server, ['copy', from, to, '--transfers', String(concurrency)]);
  return {
    putSmall: () => run(fixtures.smallDir, remote('small')),
    getSmall: async () => {
      const localDir = path.join(scratch, 'small');
      await run(remote('small'), localDir);
      return { localDir };
    },
    putLarge: () => run(fixtures.largeDir, remote('large')),
    getLarge: async () => {
      const localDir = path.join(scratch, 'large');
      await run(remote('large'), localDir);
      return { localFile: path.join(localDir, LARGE_NAME) };
    },
  };
}

export async function setupRclone(dir: string): Promise<RcloneSetup> {
  const configFile = path.join(dir, 'rclone.conf');
  fs.writeFileSync(configFile, ''); // else rclone looks for ~/.config/rclone
  const version = (await capture('rclone', ['version'])).split('\n')[0]!.trim();
  return { configFile, obscuredPassword: '', version };
}

export async function runRclone(rclone: RcloneSetup, server: WebDavTestServer, args: string[]): Promise<void> {
  await capture('rclone', [
    ...args,
    '--webdav-url', server.baseUrl,
    '--webdav-user', server.username,
    '--webdav-pass', rclone.obscuredPassword,
    '--config', rclone.configFile,
    '-q',
  ]);
}

export function capture(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args[0]} exited with ${code}: ${err.trim()}`));
    });
  });
}

// ---- fixtures, preparation, verification ----

function generateFixtures(dir: string): Fixtures {
  const smallDir = path.join(dir, 'small');
  const small: SmallFile[] = [];
  const shards = new Set<string>();
  for (let i = 0; i < SMALL_COUNT; i++) {
    const bytes = randomBytes(SMALL_BYTES);
    const sha = sha256(bytes);
    const rel = `${sha.slice(0, 2)}/${sha}.bin`;
    shards.add(sha.slice(0, 2));
    fs.mkdirSync(path.join(smallDir, sha.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(smallDir, rel), bytes);
    small.push({ rel, bytes });
  }
  const largeDir = path.join(dir, 'large');
  fs.mkdirSync(largeDir);
  const largeFile = path.join(largeDir, LARGE_NAME);
  const hasher = createHash('sha256');
  const fd = fs.openSync(largeFile, 'w');
  try {
    for (let offset = 0; offset < LARGE_BYTES; offset += 1024 * 1024) {
      const chunk = randomBytes(Math.min(1024 * 1024, LARGE_BYTES - offset));
      hasher.update(chunk);
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { small, smallDir, shards: [...shards].sort(), largeDir, largeFile, largeSha256: hasher.digest('hex') };
}

/** The contender's folder with `small/<every shard>/` and `large/`, created before (and outside) the timing, the same way for everybody. */
async function prepareFolder(server: WebDavTestServer, folder: string, shards: string[], concurrency: number): Promise<void> {
  await mkcol(server, folder);
  await mkcol(server, `${folder}/small`);
  await mkcol(server, `${folder}/large`);
  await pool(shards, concurrency, (shard) => mkcol(server, `${folder}/small/${shard}`));
}

async function mkcol(server: WebDavTestServer, folder: string): Promise<void> {
  const res = await fetch(`${server.baseUrl}/${folder}/`, { method: 'MKCOL', headers: { authorization: basicAuth(server) } });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`MKCOL ${folder} answered ${res.status}`);
}

/** Every small file is on the server's disk with its content (named by its SHA-256), and nothing else is. */
function verifyServerSmall(diskDir: string, fixtures: Fixtures): void {
  const smallDir = path.join(diskDir, 'small');
  const found = fs.readdirSync(smallDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  if (found !== SMALL_COUNT) throw new Error(`server holds ${found} small files, expected ${SMALL_COUNT}`);
  for (const f of fixtures.small) {
    const bytes = fs.readFileSync(path.join(smallDir, f.rel));
    if (bytes.length !== SMALL_BYTES || !bytes.equals(f.bytes)) throw new Error(`server copy of ${f.rel} differs (${bytes.length} bytes)`);
  }
}

/** Every small file came back, byte for byte (all 1,000 are compared: it is cheap). */
function verifyGotSmall(got: SmallGot, fixtures: Fixtures): void {
  const read =
    'inMemory' in got
      ? (rel: string) => got.inMemory.get(rel)
      : (rel: string) => (fs.existsSync(path.join(got.localDir, rel)) ? fs.readFileSync(path.join(got.localDir, rel)) : undefined);
  const count =
    'inMemory' in got
      ? got.inMemory.size
      : fs.readdirSync(got.localDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  if (count !== SMALL_COUNT) throw new Error(`got ${count} small files, expected ${SMALL_COUNT}`);
  for (const f of fixtures.small) {
    const bytes = read(f.rel);
    if (!bytes || bytes.length !== SMALL_BYTES || !bytes.equals(f.bytes)) throw new Error(`got a wrong ${f.rel} (${bytes?.length} bytes)`);
    if (sha256(bytes) !== path.basename(f.rel, '.bin')) throw new Error(`${f.rel}: SHA-256 does not match its name`);
  }
}

async function verifyGotLarge(got: LargeGot, sha: string): Promise<void> {
  if ('localFile' in got) return verifyFile(got.localFile, sha, 'downloaded');
  if (got.size !== LARGE_BYTES || got.sha256 !== sha) throw new Error(`downloaded ${got.size} bytes with SHA-256 ${got.sha256}, expected ${sha}`);
}

async function verifyFile(file: string, sha: string, where: string): Promise<void> {
  const got = await hashStream(fs.createReadStream(file));
  if (got.size !== LARGE_BYTES || got.sha256 !== sha) throw new Error(`${where}: ${got.size} bytes with SHA-256 ${got.sha256}, expected ${sha}`);
}

// ---- helpers ----

/** Runs `fn` over `items`, at most `concurrency` at a time; the first failure rejects. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

async function timed<T>(fn: () => Promise<T>): Promise<Sample & { result: T }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, result };
}

/** One timed workload of one contender, then its verification (untimed). */
async function measure(key: Workload, state: RunState, fixtures: Fixtures): Promise<Sample> {
  const { session, diskDir } = state;
  switch (key) {
    case 'putSmall': {
      const sample = await timed(() => session.putSmall());
      verifyServerSmall(diskDir, fixtures);
      return sample;
    }
    case 'getSmall': {
      const sample = await timed(() => session.getSmall());
      verifyGotSmall(sample.result, fixtures);
      return sample;
    }
    case 'putLarge': {
      const sample = await timed(() => session.putLarge());
      await verifyFile(path.join(diskDir, 'large', LARGE_NAME), fixtures.largeSha256, 'on the server');
      return sample;
    }
    case 'getLarge': {
      const sample = await timed(() => session.getLarge());
      await verifyGotLarge(sample.result, fixtures.largeSha256);
      return sample;
    }
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hasher = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hasher.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hasher.digest('hex'), size };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const basicAuth = (s: WebDavTestServer): string => `Basic ${Buffer.from(`${s.username}:${s.password}`).toString('base64')}`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

// ---- table ----

function buildTable(
  contenders: Contender[],
  samples: Map<string, Record<Workload, Sample[]>>,
  options: WebDavBenchOptions,
  rcloneVersion: string,
  loadBefore: number,
): Table {
  const rows: Row[] = [];
  for (const { key, label } of WORKLOADS) {
    const of = (c: Contender): Sample[] => samples.get(c.slug)![key];
    const med = (c: Contender): number => median(of(c).map((x) => x.seconds));
    // Paired: this run's seconds ÷ the reference's seconds in the same run (they ran back to back),
    // median over the runs. A load swing between runs on this shared machine cancels out.
    const ratio = (c: Contender, ref: Contender): number => median(of(c).map((x, i) => x.seconds / of(ref)[i]!.seconds));
    // The floor is the faster of the two bare Node clients, per workload.
    const floors = contenders.filter((c) => c.role === 'floor');
    const floor = floors.reduce((best, c) => (ratio(c, best) < 1 ? c : best));
    const fetchFloor = floors.find((c) => c.slug === 'fetch')!;
    for (const c of contenders) {
      const s = med(c);
      const vsFloor = ratio(c, floor);
      const isRemote = c.role === 'remote';
      const rate = key.endsWith('Small') ? `${fmtInt(SMALL_COUNT / s)} files/s` : `${fixed(LARGE_BYTES / 1e6 / s, 0)} MB/s`;
      rows.push({
        cells: [
          `${label} — ${c.label}${c === floor ? ' = floor' : ''}`,
          fixed(s, 3),
          rate,
          `${fixed(vsFloor, 2)}×`,
          `${fixed(ratio(c, fetchFloor), 2)}×`,
          isRemote ? `≤ ${TARGET_RATIO}×` : '—',
          c.role === 'rclone' ? 'n/a' : fixed(median(of(c).map((x) => x.cpu)), 3),
          of(c).map((x) => fixed(x.seconds, 3)).join(' '),
        ],
        ...(isRemote && { ok: vsFloor <= TARGET_RATIO }),
      });
    }
  }
  const load = (n: number): string => fixed(n, 2);
  return {
    title: `WebDAV transfers on loopback Apache mod_dav_fs, concurrency ${options.concurrency}`,
    columns: ['workload — contender', 'median s', 'rate', '÷ floor', '÷ fetch', 'target', 'client CPU s', `each run (s)`],
    textColumns: [7],
    rows,
    notes: [
      `Median of ${options.runs} runs (each run's seconds listed). Per run: every contender gets its own fresh folder, its ≤256 shard folders`,
      '(small/ab/) and large/ created beforehand with MKCOL, untimed, the same way for all; then workload by workload, all contenders back',
      'to back, order rotated each run; `sync` (untimed) before each measurement so no one pays for the previous one\'s write-back.',
      '÷ floor: median over the runs of (seconds ÷ the floor\'s seconds in the same run, measured back to back), so load swings between',
      'runs on this shared machine cancel out. Floor = the faster bare Node client for that workload, marked "= floor"; the ✓/✗ target',
      `(WebDavRemote ≤ ${TARGET_RATIO}× floor) is judged on it. ÷ fetch: the same against global fetch. Before run 1, every in-process client`,
      'did one untimed small put + get (warm-up).',
      'fetch = global fetch (undici, keep-alive), Buffer bodies, 100 MiB put as Readable.toWeb(file stream) + duplex half + Content-Length.',
      'http.request = a keep-alive http.Agent (maxSockets = C), Content-Length, the file stream piped in. Both consume every response.',
      'WebDavRemote: put(path, Buffer) / put(path, { size, open: () => createReadStream(file) }), get(path) → stream; C at a time (promise pool).',
      `${rcloneVersion}: \`rclone copy <dir> :webdav:<folder> --transfers C\`, defaults otherwise, timed whole incl. process start;`,
      'its webdav backend paces API calls ≥ 10 ms apart (not tunable before v1.63). Its 100 MiB get writes to disk; the others hash in the timing.',
      'Verified after each timing (untimed): all 1,000 small files byte for byte on the server disk and as fetched, and that no',
      'other file is there; the 100 MiB file by size and SHA-256 on the server disk and as fetched.',
      `client CPU s = user+sys of the bench process during the timing (the client's own cost; Apache and rclone not included).`,
      `Small = ${fmtInt(SMALL_COUNT)} files of ${SMALL_BYTES} B; large = ${fmtInt(LARGE_BYTES)} B; MB/s = 10^6 B/s. Client, rclone and Apache share the cores;`,
      `the machine is shared: 1-min load average ${load(loadBefore)} before the section, ${load(os.loadavg()[0]!)} after.`,
    ],
  };
}
