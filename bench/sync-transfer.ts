/**
 * `sync-transfer` section (issue 11): how fast one large blob moves inside a real sync, next to a bare
 * transfer of the same file from the same server in the same run. Per size (256 MiB and 1 GiB) and
 * remote (loopback Apache mod_dav_fs; a folder remote for reference):
 *  - upload: instance A holds the file (imported untimed) and syncs to a remote both instances synced
 *    with before (a 4-byte file, untimed: shard folders exist, as after any first push): the whole
 *    `sync()` is timed (lock, blob PUT, delta, version switch) against a bare PUT of the file;
 *  - download: instance B syncs it down: the whole `sync()` (blob GET, hash check, fsync into
 *    the local blob store, apply) against a bare GET to nowhere (Node `http.get`, and curl).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { openDocsync, type Docsync } from '../src/docsync.ts';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { tempDir } from './cleanup.ts';
import { BENCH_PASSWORD } from './instance.ts';
import { fixed, sourceLine, type Row, type Table } from './table.ts';

export interface SyncTransferOptions {
  /** File sizes in MiB. */
  sizesMib: number[];
  /** Timed runs per size and remote; the median is shown. */
  runs: number;
}

const DOWNLOAD_TARGET = 0.5;
const UPLOAD_TARGET = 0.8;

type Kind = 'apache' | 'folder';

/** One run's seconds: each docsync transfer next to the bare one measured just before or after it. */
interface RunSample {
  barePut: number;
  /** The whole sync, and its blob step alone (the `uploading` / `downloading` phase). */
  upload: number;
  uploadStep: number;
  bareGet: number;
  curlGet: number | undefined;
  /** The same GET written to a file on the data dir's disk and fsynced: what that disk allows. */
  diskGet: number;
  /** The same GET written to a file, not fsynced (the page cache): what writing the bytes at all allows. */
  cacheGet: number;
  download: number;
  downloadStep: number;
}

/** A remote as the bench sees it: bare transfers of a file, and the environment of an instance on it. */
interface BenchRemote {
  kind: Kind;
  label: string;
  env(root: string): Record<string, string>;
  barePut(file: string, size: number, name: string): Promise<void>;
  bareGet(name: string): Promise<void>;
  /** The bare GET written into `into` and fsynced (unless `durable` is false), then removed. */
  bareGetToDisk(name: string, into: string, durable?: boolean): Promise<void>;
  curlGet?(name: string): Promise<void>;
  /** Removes a remote root (or the bare files) from the server's disk. */
  clear(rootOrName: string): void;
}

export async function benchSyncTransfer(options: SyncTransferOptions, log: (line: string) => void): Promise<Table> {
  const tmp = tempDir('sync-transfer');
  let server: WebDavTestServer | undefined;
  const loadBefore = os.loadavg()[0]!;
  try {
    server = await startWebDavServer('apache');
    const remotes = [apacheRemote(server), folderRemote(path.join(tmp.dir, 'folder-remote'))];
    const rows: Row[] = [];
    for (const mib of options.sizesMib) {
      const bytes = mib * 1024 * 1024;
      const file = path.join(tmp.dir, `source-${mib}.bin`);
      const sha256 = writeRandomFile(file, bytes);
      for (const remote of remotes) {
        const samples: RunSample[] = [];
        for (let run = 1; run <= options.runs; run++) {
          samples.push(await measureRun(remote, tmp.dir, file, bytes, sha256, `${mib}-${run}`));
          const s = samples.at(-1)!;
          log(`sync-transfer: ${remote.label} ${mib} MiB run ${run}/${options.runs}: PUT ${fixed(s.barePut, 2)} s, upload ${fixed(s.upload, 2)} s, GET ${fixed(s.bareGet, 2)} s, download ${fixed(s.download, 2)} s, verified`);
        }
        rows.push(...tableRows(remote, mib, bytes, samples));
      }
      fs.rmSync(file, { force: true });
    }
    return {
      title: 'One large blob inside a sync, next to a bare transfer of the same file',
      columns: ['remote, size, direction', 'bare MB/s', 'docsync MB/s', 'ratio', 'target', 'ratio each run', 'whole sync MB/s', 'ratio', 'curl MB/s', 'GET to disk MB/s', 'docsync ÷ it', 'GET to file, no fsync MB/s', 'it ÷ bare'],
      textColumns: [5],
      rows,
      notes: [
        `Median of ${options.runs} runs; ratio = bare seconds ÷ docsync seconds of the same run (measured back to back, order alternating), median over runs.`,
        'docsync MB/s: the blob step inside the sync (its uploading / downloading phase, from the progress events), the target\'s measure;',
        'whole sync MB/s: the same file over the whole sync() call, its fixed cost (lock, snapshot, version switch) included.',
        'docsync upload: the whole sync() of an instance holding the file (imported untimed) to a remote it synced with before (a 4-byte',
        'file, untimed: the remote\'s shard folders exist, as after any first push): lock, the blob PUT streamed from the local blob store,',
        'delta, version switch, unlock. Bare PUT: http.request with Content-Length,',
        'the file piped in, on a connection of its own (folder: the file streamed into a temp file there, fsynced, renamed — what the folder remote does).',
        'docsync download: the whole sync() of the other instance (it took the 4-byte file before, untimed): the blob GET (idle timeout, size cap), SHA-256 (on a worker thread from 8 MiB), written to a temp file, fsynced,',
        'renamed into the blob store, the row applied. Bare GET: Node http.get, body thrown away (folder: a read stream drained); curl -o /dev/null',
        'for reference (not the target: curl neither hashes nor writes, and on 2 cores SHA-256 at ~1.2 GB/s and the fsync to disk bound docsync).',
        'GET to disk: the same bare GET piped into a file beside the data dirs and fsynced (no hash): what this disk allows a download;',
        '"docsync ÷ it" near 1× means the download is bound by the disk, not by docsync.',
        'GET to file, no fsync: the same, without the fsync (the bytes left in the page cache): a copy neither verified nor durable;',
        '"it ÷ bare" is the most any download that writes what it receives could reach of the target\'s measure on this machine.',
        'After each run (untimed): the downloaded blob\'s SHA-256 is checked against the source file; data dirs and remote roots are removed.',
        `MB = 10^6 bytes. Apache, the bench and curl share the cores; 1-min load ${fixed(loadBefore, 2)} before, ${fixed(os.loadavg()[0]!, 2)} after. ${sourceLine()}.`,
      ],
    };
  } finally {
    await server?.stop();
    tmp.remove();
  }
}

async function measureRun(remote: BenchRemote, dir: string, file: string, bytes: number, sha256: string, tag: string): Promise<RunSample> {
  const root = `st-${tag}`;
  const bareName = `bare-${tag}.bin`;
  const dataA = path.join(dir, `a-${tag}`);
  const dataB = path.join(dir, `b-${tag}`);
  const bareFirst = Number(tag.split('-')[1]) % 2 === 1;
  let a: Docsync | undefined;
  let b: Docsync | undefined;
  try {
    a = openInstance(dataA, remote.env(root));
    b = openInstance(dataB, remote.env(root));
    // Untimed: the remote exists (its shard folders made once, by its first push) and both instances
    // know it, as every day after the first; the bare PUT, too, goes into a folder that exists.
    await a.files.create(Readable.from([Buffer.from('seed')]), { filename: 'seed.txt' });
    await syncOnce(a, 'uploaded');
    await syncOnce(b, 'downloaded');
    await a.files.create(fs.createReadStream(file), { filename: 'large.bin' });
    let uploadStep = 0;
    let downloadStep = 0;
    const put = await pair(() => remote.barePut(file, bytes, bareName), async () => void (uploadStep = await syncOnce(a!, 'uploaded')), bareFirst);
    const get = await pair(() => remote.bareGet(bareName), async () => void (downloadStep = await syncOnce(b!, 'downloaded')), bareFirst);
    const curlGet = remote.curlGet && (await timed(() => remote.curlGet!(bareName)));
    const diskGet = await timed(() => remote.bareGetToDisk(bareName, path.join(dir, `disk-${tag}.bin`)));
    const cacheGet = await timed(() => remote.bareGetToDisk(bareName, path.join(dir, `cache-${tag}.bin`), false));
    await verifyDownloaded(b, bytes, sha256);
    return { barePut: put.bare, upload: put.ours, uploadStep, bareGet: get.bare, curlGet, diskGet, cacheGet, download: get.ours, downloadStep };
  } finally {
    a?.close();
    b?.close();
    fs.rmSync(dataA, { recursive: true, force: true });
    fs.rmSync(dataB, { recursive: true, force: true });
    remote.clear(root);
    remote.clear(bareName);
  }
}

function openInstance(dataDir: string, remoteEnv: Record<string, string>): Docsync {
  const config = loadConfig(
    {
      DOCSYNC_DATA_DIR: dataDir,
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_MAX_UPLOAD_MB: '4096',
      DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD,
      DOCSYNC_LOG_LEVEL: 'silent',
      ...remoteEnv,
    },
    {},
    dataDir,
  );
  return openDocsync(config);
}

/**
 * One sync that must move exactly one file the given way; answers the seconds of its blob step, from
 * the progress events: from the first `uploading` / `downloading` event to the next phase's.
 */
async function syncOnce(docsync: Docsync, moved: 'uploaded' | 'downloaded'): Promise<number> {
  const phase = moved === 'uploaded' ? 'uploading' : 'downloading';
  let began: number | undefined;
  let ended: number | undefined;
  const unsubscribe = docsync.sync.subscribe((event) => {
    if (event.type !== 'syncProgress') return;
    if (event.data.phase === phase) began ??= performance.now();
    else if (began !== undefined) ended ??= performance.now();
  });
  try {
    const summary = await docsync.sync.sync();
    if (summary[moved] !== 1 || summary.errors > 0) throw new Error(`sync ${moved} ${summary[moved]} file(s), ${summary.errors} error(s): ${summary.message}`);
  } finally {
    unsubscribe();
  }
  if (began === undefined || ended === undefined) throw new Error(`the sync showed no ${phase} phase`);
  return (ended - began) / 1000;
}

async function verifyDownloaded(docsync: Docsync, bytes: number, sha256: string): Promise<void> {
  const file = docsync.files.list({ limit: 10 }).files.find((f) => f.filename === 'large.bin');
  if (!file || file.size !== bytes || file.hash !== sha256) throw new Error(`instance B holds ${JSON.stringify(file)}, expected ${sha256}`);
  const hasher = createHash('sha256');
  await pipeline(docsync.files.openContent(file), hasher);
  if (hasher.digest('hex') !== sha256) throw new Error('the downloaded blob does not hash to its address');
}

function tableRows(remote: BenchRemote, mib: number, bytes: number, samples: RunSample[]): Row[] {
  const rate = (seconds: number[]): string => fixed(bytes / 1e6 / median(seconds), 0);
  const row = (direction: 'upload' | 'download', bare: number[], step: number[], whole: number[], target: number, curl?: number[], disk?: number[], cache?: number[]): Row => {
    const ratios = step.map((s, i) => bare[i]! / s);
    const ratio = median(ratios);
    return {
      cells: [
        `${remote.label}, ${mib} MiB, ${direction}`,
        rate(bare),
        rate(step),
        `${fixed(ratio, 2)}×`,
        `≥ ${target}×`,
        ratios.map((r) => fixed(r, 2)).join(' '),
        rate(whole),
        `${fixed(median(whole.map((s, i) => bare[i]! / s)), 2)}×`,
        curl ? rate(curl) : '—',
        disk ? rate(disk) : '—',
        disk ? `${fixed(median(step.map((s, i) => disk[i]! / s)), 2)}×` : '—',
        cache ? rate(cache) : '—',
        cache ? `${fixed(median(cache.map((s, i) => bare[i]! / s)), 2)}×` : '—',
      ],
      ok: ratio >= target,
    };
  };
  const curl = samples.every((s) => s.curlGet !== undefined) ? samples.map((s) => s.curlGet!) : undefined;
  const pick = (key: keyof RunSample): number[] => samples.map((s) => s[key]!);
  return [
    row('download', pick('bareGet'), pick('downloadStep'), pick('download'), DOWNLOAD_TARGET, curl, pick('diskGet'), pick('cacheGet')),
    row('upload', pick('barePut'), pick('uploadStep'), pick('upload'), UPLOAD_TARGET),
  ];
}

// ---- remotes ----

function apacheRemote(server: WebDavTestServer): BenchRemote {
  const base = new URL(server.baseUrl);
  const authorization = `Basic ${Buffer.from(`${server.username}:${server.password}`).toString('base64')}`;
  // A connection of its own per request: Apache closes an idle keep-alive connection after 5 s, and
  // a reused one after a 1 GiB sync in between was reset under the next bare GET.
  const agent = false;
  const request = (method: 'PUT' | 'GET', name: string, file?: { path: string; size: number }): Promise<void> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization };
      if (file) headers['content-length'] = file.size;
      const req = http.request({ host: base.hostname, port: base.port, path: `${base.pathname}/${name}`, method, headers, agent }, (res) => {
        const ok = method === 'PUT' ? res.statusCode === 201 || res.statusCode === 204 : res.statusCode === 200;
        res.on('data', () => undefined);
        res.once('end', () => (ok ? resolve() : reject(new Error(`bare ${method} ${name} answered ${res.statusCode}`))));
        res.once('error', reject);
      });
      req.once('error', reject);
      if (file) pipeline(fs.createReadStream(file.path), req).catch(reject);
      else req.end();
    });
  return {
    kind: 'apache',
    label: 'Apache',
    env: (root) => ({
      WEBDAV_BASE_URL: server.baseUrl,
      WEBDAV_USERNAME: server.username,
      WEBDAV_PASSWORD: server.password,
      WEBDAV_REMOTE_ROOT: `/${root}`,
    }),
    barePut: (file, size, name) => request('PUT', name, { path: file, size }),
    bareGet: (name) => request('GET', name),
    bareGetToDisk: (name, into, durable) =>
      intoFile(into, durable, (sink) =>
        new Promise((resolve, reject) => {
          const req = http.get({ host: base.hostname, port: base.port, path: `${base.pathname}/${name}`, headers: { authorization }, agent }, (res) => {
            if (res.statusCode !== 200) return reject(new Error(`bare GET ${name} answered ${res.statusCode}`));
            pipeline(res, sink).then(resolve, reject);
          });
          req.once('error', reject);
        }),
      ),
    curlGet: async (name) => {
      execFileSync('curl', ['-sf', '-o', '/dev/null', '-H', `Authorization: ${authorization}`, `${server.baseUrl}/${name}`]);
    },
    clear: (name) => fs.rmSync(path.join(server.rootDir, name), { recursive: true, force: true }),
  };
}

function folderRemote(folder: string): BenchRemote {
  fs.mkdirSync(folder, { recursive: true });
  return {
    kind: 'folder',
    label: 'folder',
    env: (root) => ({ DOCSYNC_REMOTE: pathToFileURL(path.join(folder, root)).href }),
    barePut: async (file, _size, name) => {
      const temp = path.join(folder, `.${name}.tmp`);
      await pipeline(fs.createReadStream(file), fs.createWriteStream(temp, { flags: 'wx' }));
      const handle = await fsp.open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temp, path.join(folder, name));
    },
    bareGet: async (name) => {
      await pipeline(fs.createReadStream(path.join(folder, name)), new Writable({ write: (_chunk, _enc, done) => done() }));
    },
    bareGetToDisk: (name, into, durable) => intoFile(into, durable, (sink) => pipeline(fs.createReadStream(path.join(folder, name)), sink)),
    clear: (name) => fs.rmSync(path.join(folder, name), { recursive: true, force: true }),
  };
}

// ---- helpers ----

/** Runs `fill` with a write stream on `file`, then fsyncs it (unless `durable` is false) and removes it. */
async function intoFile(file: string, durable: boolean | undefined, fill: (sink: fs.WriteStream) => Promise<void>): Promise<void> {
  // 1 MiB of buffer: writes go out batched (writev) while the next bytes arrive, as docsync's own sink does.
  await fill(fs.createWriteStream(file, { flags: 'wx', highWaterMark: 1024 * 1024 }));
  const handle = await fsp.open(file, 'r+');
  try {
    if (durable !== false) await handle.sync();
  } finally {
    await handle.close();
    await fsp.rm(file, { force: true });
  }
}

/** `bytes` of random content (1 MiB blocks stamped with their index), returning its SHA-256. */
function writeRandomFile(file: string, bytes: number): string {
  const hasher = createHash('sha256');
  const block = randomBytes(1024 * 1024);
  const fd = fs.openSync(file, 'w');
  try {
    for (let offset = 0, index = 0; offset < bytes; offset += block.length, index++) {
      const chunk = block.subarray(0, Math.min(block.length, bytes - offset));
      chunk.writeDoubleBE(index, 0);
      hasher.update(chunk);
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  return hasher.digest('hex');
}

/** The bare transfer and docsync's, back to back, in the order given: seconds of each. */
async function pair(bare: () => Promise<void>, ours: () => Promise<void>, bareFirst: boolean): Promise<{ bare: number; ours: number }> {
  if (bareFirst) {
    const bareS = await timed(bare);
    return { bare: bareS, ours: await timed(ours) };
  }
  const oursS = await timed(ours);
  return { bare: await timed(bare), ours: oursS };
}

/** Seconds of `fn`, after writing back every dirty page (untimed), so no step pays for the one before. */
async function timed(fn: () => Promise<void>): Promise<number> {
  execFileSync('sync');
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
