/**
 * `sync` section (issue 4): docsync's sync against loopback Apache mod_dav_fs, in-process
 * (`docsync.sync.sync()`, the body of `POST /api/v1/sync`).
 *  1. No-change sync at each size (default 10K and 100K files): latency, and HTTP requests per sync.
 *  2. Initial sync of 2,000 files (1 KB–1 MB, log-uniform, ~300 MB) to an empty remote, next to the
 *     floor (bare keep-alive `http.request` PUTs into shard folders) and `rclone copy`.
 *  3. A 10-file change at each size: push from one instance, pull into another; time and bytes.
 * The instances of 1 and 3 are seeded in sync directly (rows, remote state, sync state; no blobs).
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../src/config.ts';
import { dataPaths, openDocsync, type Docsync } from '../src/docsync.ts';
import type { FileRecord } from '../src/domain/file.ts';
import { cryptoIdSource, seededIdSource } from '../src/domain/ids.ts';
import { REMOTE_RETRY_POLICY } from '../src/remote/open-remote.ts';
import type { Remote } from '../src/remote/remote.ts';
import { RemoteMetadataStore } from '../src/remote/remote-metadata.ts';
import type { RemoteFileRow } from '../src/domain/shared-row.ts';
import { RetryingRemote } from '../src/remote/retrying-remote.ts';
import type { VersionHead } from '../src/remote/version-file.ts';
import { WebDavRemote } from '../src/remote/webdav-remote.ts';
import { SYNC_STATE_KEYS } from '../src/store/sync-state.ts';
import type { SyncPhase, SyncSummary } from '../src/sync/events.ts';
import { acquireLocalSyncLock } from '../src/sync/local-sync-lock.ts';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { tempDir } from './cleanup.ts';
import { BENCH_PASSWORD } from './instance.ts';
import { describeCalls, MeteredRemote, startCountingProxy, type MeterReading } from './remote-meter.ts';
import { RowFactory } from './rows.ts';
import { percentile } from './stats.ts';
import { fixed, int, sourceLine, type Row, type Table } from './table.ts';
import { pool, runRclone, setupRclone, capture, type RcloneSetup } from './webdav-transfer.ts';

export interface SyncBenchOptions {
  /** File counts of the no-change and 10-file-change measurements. */
  sizes: number[];
  /** Files of the initial sync. */
  initialFiles: number;
  /** Timed repetitions of the initial sync and of the 10-file change (median shown). */
  runs: number;
  /** Timed no-change syncs per size. */
  noChangeRuns: number;
}

const NO_CHANGE_P99_TARGET_MS = 10;
/** "Independent of file count": p50 at most 2× (or 1 ms above) the fastest size's p50. */
const FLAT_FACTOR = 2;
const FLAT_SLACK_MS = 1;
const NO_CHANGE_WARMUP = 10;
/** No-change syncs counted at the proxy. */
const PROXY_COUNT_RUNS = 10;
const INITIAL_RATIO_TARGET = 1.5;
const DEFAULT_WORKERS = 4;
const MIN_FILE_BYTES = 1024;
const MAX_FILE_BYTES = 1024 * 1024;
const EDITS = 10;
const EDIT_BYTES = 100_000;
const SEED_BATCH = 50_000;
const EXTENSIONS = ['pdf', 'pdf', 'tei.xml', 'txt'];

type Log = (line: string) => void;

export async function benchSync(options: SyncBenchOptions, log: Log): Promise<Table[]> {
  const tmp = tempDir('sync');
  let server: WebDavTestServer | undefined;
  try {
    const loadStart = os.loadavg()[0]!;
    log('sync: starting Apache…');
    server = await startWebDavServer('apache');
    const perSize: SizeResult[] = [];
    for (const n of options.sizes) perSize.push(await measureAtSize(server, tmp.dir, n, options, log));
    const loadMid = os.loadavg()[0]!;
    const initial = await measureInitialSync(server, tmp.dir, options, log);
    const loads = { start: loadStart, mid: loadMid, end: os.loadavg()[0]! };
    return [noChangeTable(perSize, options, loads), initialTable(initial, options, loads), changeTable(perSize, options, loads)];
  } finally {
    await server?.stop();
    tmp.remove();
  }
}

// ---- instances ----

interface Instance {
  docsync: Docsync;
  meter: MeteredRemote;
  dataDir: string;
}

function webDavRemote(server: WebDavTestServer, remoteRoot: string, baseUrl = server.baseUrl): WebDavRemote {
  return new WebDavRemote({ baseUrl, username: server.username, password: server.password, remoteRoot });
}

/**
 * An in-process instance on `dataDir`, configured for the WebDAV remote at `remoteRoot` and given
 * the remote docsync itself would build (`RetryingRemote` around `WebDavRemote`, the same policy),
 * with the meter between the two.
 */
function openInstance(dataDir: string, server: WebDavTestServer, remoteRoot: string, workers: number, baseUrl?: string): Instance {
  const config = loadConfig(
    {
      DOCSYNC_DATA_DIR: dataDir,
      WEBDAV_BASE_URL: server.baseUrl,
      WEBDAV_USERNAME: server.username,
      WEBDAV_PASSWORD: server.password,
      WEBDAV_REMOTE_ROOT: remoteRoot,
      DOCSYNC_TRANSFER_WORKERS: String(workers),
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD,
      DOCSYNC_LOG_LEVEL: 'silent',
    },
    {},
    dataDir,
  );
  const meter = new MeteredRemote(webDavRemote(server, remoteRoot, baseUrl));
  const docsync = openDocsync(config, { remote: new RetryingRemote(meter, REMOTE_RETRY_POLICY) });
  return { docsync, meter, dataDir };
}

/**
 * Steps of a sync as its progress events show them: the phases, plus `confirm`, which starts when the
 * last blob upload finished (its progress event) and lasts until `committing` begins: the listing of
 * every shard folder that confirms the uploads, the snapshot rows written, the lock checked.
 */
type Step = Exclude<SyncPhase, 'done'> | 'confirm';

/** How long each step of one sync took (ms), from its progress events. */
function trackPhases(docsync: Docsync): { stop(): Map<Step, number> } {
  const marks: { step: Step | 'done'; at: number }[] = [];
  const unsubscribe = docsync.sync.subscribe((event) => {
    if (event.type !== 'syncProgress') return;
    const { phase, done, total } = event.data;
    const step: Step | 'done' = phase === 'uploading' && total > 0 && done === total ? 'confirm' : phase;
    if (marks.at(-1)?.step !== step) marks.push({ step, at: performance.now() });
  });
  return {
    stop: () => {
      unsubscribe();
      const durations = new Map<Step, number>();
      for (let i = 0; i + 1 < marks.length; i++) {
        const { step } = marks[i]!;
        if (step !== 'done') durations.set(step, (durations.get(step) ?? 0) + marks[i + 1]!.at - marks[i]!.at);
      }
      return durations;
    },
  };
}

const STEP_LABELS: Record<Step, string> = {
  checking: 'check',
  locking: 'lock',
  metadata: 'metadata get',
  planning: 'plan',
  downloading: 'blobs down',
  applying: 'apply',
  uploading: 'blobs up',
  confirm: 'confirm',
  committing: 'commit',
};

/** Median duration per step over runs, steps under 0.5 ms left out: "lock 4 · metadata get 95 · …" (ms). */
function describePhases(runs: Map<Step, number>[]): string {
  return (Object.keys(STEP_LABELS) as Step[])
    .map((step) => ({ step, ms: median(runs.map((r) => r.get(step) ?? 0)) }))
    .filter(({ ms }) => ms >= 0.5)
    .map(({ step, ms }) => `${STEP_LABELS[step]} ${ms < 10 ? fixed(ms, 1) : fixed(ms, 0)}`)
    .join(' · ');
}

// ---- 1 and 3: an instance in sync with a remote of N files ----

interface SizeResult {
  files: number;
  snapshotBytes: number;
  seedSeconds: number;
  noChange: {
    samplesMs: number[];
    callsPerSync: number;
    calls: string;
    requestsPerSync: number;
    requests: string;
    /** One bare GET of version.txt. */
    floorMs: number[];
    /** The local sync lock file every sync takes and releases (acquireLocalSyncLock). */
    localLockMs: number[];
  };
  change: { push: ChangeRun[]; pull: ChangeRun[] };
  /** `fileRepository.pendingChanges()` alone on instance A, nothing pending (median ms): part of every sync's plan. */
  pendingChangesMs: number;
}

interface ChangeRun {
  seconds: number;
  reading: MeterReading;
  phases: Map<Step, number>;
}

async function measureAtSize(server: WebDavTestServer, tmp: string, n: number, options: SyncBenchOptions, log: Log): Promise<SizeResult> {
  const remoteRoot = `/sync-${n}`;
  const a = openInstance(path.join(tmp, `a-${n}`), server, remoteRoot, DEFAULT_WORKERS);
  const b = openInstance(path.join(tmp, `b-${n}`), server, remoteRoot, DEFAULT_WORKERS);
  try {
    log(`sync: seeding two instances in sync with a remote of ${int(n)} files…`);
    const seedStart = performance.now();
    // With docsync's retries: the seeding blocks the event loop for seconds, and Apache closes idle keep-alive connections.
    const seedRemote = new RetryingRemote(webDavRemote(server, remoteRoot), REMOTE_RETRY_POLICY);
    const seeded = await seedInSync(n, [a.docsync, b.docsync], seedRemote, path.join(tmp, 'seed'), EDITS * options.runs);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    log(`sync: seeded in ${fixed(seedSeconds, 1)} s (snapshot ${fixed(seeded.snapshotBytes / 1e6, 1)} MB); no-change syncs…`);
    const noChange = await measureNoChange(a, server, remoteRoot, options.noChangeRuns);
    log(`sync: no-change p50 ${fixed(percentile(sorted(noChange.samplesMs), 50), 2)} ms at ${int(n)} files; 10-file changes…`);
    const change = await measureChange(a, b, seeded.editable, options.runs, log);
    const pendingChangesMs = median(
      Array.from({ length: 5 }, () => {
        const start = performance.now();
        a.docsync.fileRepository.pendingChanges();
        return performance.now() - start;
      }),
    );
    return { files: n, snapshotBytes: seeded.snapshotBytes, seedSeconds, noChange, change, pendingChangesMs };
  } finally {
    a.docsync.close();
    b.docsync.close();
    // The remote folder on the server's disk (owned by Apache's user; we are root or its owner).
    fs.rmSync(path.join(server.rootDir, remoteRoot), { recursive: true, force: true });
  }
}

/**
 * Local rows `synced` at remote version 1 in every instance, the same rows committed as version 1
 * through `RemoteMetadataStore` (so `version.txt` and the snapshot are exactly what docsync writes:
 * the first commit of a repository compacts, its snapshot holds every row), each instance given its
 * own copy of that shared state (`remote-state.db` in its data dir, as a sync would have left it), and
 * its sync state at that head with the repository id. No blobs: a no-change sync reads none, and the
 * 10-file change moves only the edited files' new content.
 */
async function seedInSync(
  n: number,
  instances: Docsync[],
  remote: Remote,
  tmpDir: string,
  editCount: number,
): Promise<{ snapshotBytes: number; editable: string[] }> {
  const factory = new RowFactory(n);
  const metadata = new RemoteMetadataStore(remote, tmpDir, cryptoIdSource);
  const repoId = randomUUID();
  fs.mkdirSync(tmpDir, { recursive: true });
  const statePath = path.join(tmpDir, `state-${n}.db`);
  const state = await metadata.initialize(statePath, repoId);
  const every = Math.max(1, Math.floor(n / editCount));
  const editable: string[] = [];
  let head: VersionHead;
  try {
    for (let from = 0; from < n; from += SEED_BATCH) {
      const rows = factory.batch(from, Math.min(n, from + SEED_BATCH)).map(inSync);
      for (const docsync of instances) docsync.fileRepository.insertMany(rows);
      state.transaction(() => {
        for (const row of rows) state.upsert(toRemoteRow(row, 1));
      });
      rows.forEach((row, k) => {
        if ((from + k) % every === 0 && editable.length < editCount) editable.push(row.stable_id);
      });
    }
    ({ head } = await metadata.commit(state, [], undefined, { repo: repoId, instance: 'seed', committedAt: new Date().toISOString() }));
  } finally {
    state.close();
  }
  for (const docsync of instances) {
    fs.copyFileSync(statePath, dataPaths(docsync.config.dataDir).remoteState);
    docsync.syncState.set(SYNC_STATE_KEYS.repoId, repoId);
    docsync.syncState.markSeen(head);
  }
  fs.rmSync(statePath, { force: true });
  return { snapshotBytes: head.snapshot.size ?? 0, editable };
}

function inSync(row: FileRecord): FileRecord {
  return { ...row, deleted: false, sync_status: 'synced', sync_hash: row.hash, remote_version: 1 };
}

function toRemoteRow(row: FileRecord, version: number): RemoteFileRow {
  return {
    stable_id: row.stable_id,
    hash: row.hash,
    filename: row.filename,
    file_type: row.file_type,
    mime_type: row.mime_type,
    size: row.size,
    doc_id: row.doc_id,
    collections: row.collections,
    labels: row.labels,
    metadata: row.metadata,
    deleted: row.deleted,
    created_at: row.created_at,
    updated_at: row.updated_at,
    version,
  };
}

async function measureNoChange(a: Instance, server: WebDavTestServer, remoteRoot: string, runs: number): Promise<SizeResult['noChange']> {
  const expectSkip = (summary: SyncSummary): void => {
    if (!summary.skipped) throw new Error(`a no-change sync did work: ${summary.message}`);
  };
  const getVersion = versionGetter(server, remoteRoot);
  const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
  const samplesMs: number[] = [];
  const floorMs: number[] = [];
  const localLockMs: number[] = [];
  const calls = new Map<string, number>();
  let totalCalls = 0;
  try {
    // The first sync probes the server's capabilities (remembered in the sync state); then warm-up.
    // Interleaved, so that a stall of this shared machine is as likely to hit the floor as the sync.
    for (let i = 0; i < NO_CHANGE_WARMUP + runs; i++) {
      const timedRun = i >= NO_CHANGE_WARMUP;
      a.meter.take();
      let start = process.hrtime.bigint();
      const summary = await a.docsync.sync.sync();
      if (timedRun) samplesMs.push(elapsedMs(start));
      expectSkip(summary);
      const reading = a.meter.take();
      if (timedRun) {
        totalCalls += reading.totalCalls;
        for (const [key, n] of reading.calls) calls.set(key, (calls.get(key) ?? 0) + n);
      }
      start = process.hrtime.bigint();
      await getVersion.get();
      if (timedRun) floorMs.push(elapsedMs(start));
      start = process.hrtime.bigint();
      acquireLocalSyncLock(a.dataDir)();
      if (timedRun) localLockMs.push(elapsedMs(start));
    }
  } finally {
    getVersion.close();
  }

  // The same data dir through the counting proxy: what Apache sees per no-change sync.
  const proxy = await startCountingProxy(server.baseUrl, remoteRoot);
  const viaProxy = openInstance(a.dataDir, server, remoteRoot, DEFAULT_WORKERS, proxy.baseUrl);
  try {
    expectSkip(await viaProxy.docsync.sync.sync());
    proxy.take();
    for (let i = 0; i < PROXY_COUNT_RUNS; i++) expectSkip(await viaProxy.docsync.sync.sync());
    const counted = proxy.take();
    return {
      samplesMs,
      callsPerSync: totalCalls / runs,
      calls: describeCalls(calls, runs),
      requestsPerSync: counted.total / PROXY_COUNT_RUNS,
      requests: describeCalls(counted.byKey, PROXY_COUNT_RUNS),
      floorMs,
      localLockMs,
    };
  } finally {
    viaProxy.docsync.close();
    await proxy.close();
  }
}

/** The round trip a no-change sync cannot beat: one keep-alive `GET version.txt`, bare `http.request`. */
function versionGetter(server: WebDavTestServer, remoteRoot: string): { get(): Promise<void>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(`${server.baseUrl}${remoteRoot}/version.txt`);
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get(url, { agent, headers: { authorization: basicAuth(server) } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET version.txt answered ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

async function measureChange(a: Instance, b: Instance, editable: string[], runs: number, log: Log): Promise<SizeResult['change']> {
  // B's first contact probes the server (remembered); A probed during the no-change runs.
  const first = await b.docsync.sync.sync();
  if (!first.skipped) throw new Error(`instance B was not in sync after seeding: ${first.message}`);
  const push: ChangeRun[] = [];
  const pull: ChangeRun[] = [];
  for (let run = 0; run < runs; run++) {
    const ids = editable.slice(run * EDITS, (run + 1) * EDITS);
    const edited = new Map<string, string>();
    for (const [k, id] of ids.entries()) {
      const file = await a.docsync.files.replaceContent(id, Readable.from([seededBytes(`edit-${run}`, k, EDIT_BYTES)]));
      edited.set(id, file.hash);
    }
    execFileSync('sync');
    push.push(await timedSync(a, (s) => s.uploaded === EDITS && s.errors === 0 && s.metadata_synced === 0));
    pull.push(await timedSync(b, (s) => s.downloaded === EDITS && s.errors === 0 && s.metadata_synced === 0));
    for (const [id, hash] of edited) {
      const row = b.docsync.files.get(id);
      if (row.hash !== hash || row.sync_status !== 'synced') throw new Error(`instance B has ${id} at ${row.hash} (${row.sync_status}), expected ${hash}`);
    }
    log(`sync: 10-file change, run ${run + 1}/${runs}: push ${fixed(push.at(-1)!.seconds, 3)} s, pull ${fixed(pull.at(-1)!.seconds, 3)} s, verified`);
  }
  return { push, pull };
}

async function timedSync(instance: Instance, expected: (summary: SyncSummary) => boolean): Promise<ChangeRun> {
  instance.meter.take();
  const phases = trackPhases(instance.docsync);
  const start = performance.now();
  const summary = await instance.docsync.sync.sync();
  const seconds = (performance.now() - start) / 1000;
  if (!expected(summary)) throw new Error(`unexpected sync summary: ${JSON.stringify(summary)}`);
  return { seconds, reading: instance.meter.take(), phases: phases.stop() };
}

// ---- 2: initial sync of a fresh instance to an empty remote ----

interface Fixture {
  /** `ab/<sha256>.<ext>`: the blob's path in the local store and on the remote alike. */
  rel: string;
  hash: string;
  size: number;
}

interface InitialContender {
  label: string;
  slug: string;
  role: 'docsync' | 'floor' | 'rclone';
  concurrency: number;
}

interface InitialSample {
  seconds: number;
  cpu: number;
  requests: string;
  phases?: Map<Step, number>;
}

interface InitialResult {
  fixtures: Fixture[];
  totalBytes: number;
  setupSeconds: number;
  contenders: InitialContender[];
  samples: Map<string, InitialSample[]>;
  rcloneVersion: string;
}

async function measureInitialSync(server: WebDavTestServer, tmp: string, options: SyncBenchOptions, log: Log): Promise<InitialResult> {
  const dataDir = path.join(tmp, 'initial');
  log(`sync: adding ${int(options.initialFiles)} files (1 KB–1 MB, log-uniform) to a fresh instance…`);
  const setupStart = performance.now();
  const fixtures = await addInitialFiles(dataDir, options.initialFiles);
  const setupSeconds = (performance.now() - setupStart) / 1000;
  const totalBytes = fixtures.reduce((sum, f) => sum + f.size, 0);
  const pristine = path.join(tmp, 'initial-pristine.db');
  fs.copyFileSync(path.join(dataDir, 'docsync.db'), pristine);
  log(`sync: ${fixed(totalBytes / 1e6, 1)} MB added in ${fixed(setupSeconds, 1)} s`);

  const rclone = await setupRclone(tmp);
  rclone.obscuredPassword = (await capture('rclone', ['obscure', server.password])).trim();
  const contenders: InitialContender[] = [
    { label: `docsync sync, ${DEFAULT_WORKERS} workers (DOCSYNC_TRANSFER_WORKERS default)`, slug: 'docsync4', role: 'docsync', concurrency: DEFAULT_WORKERS },
    { label: 'docsync sync, 8 workers', slug: 'docsync8', role: 'docsync', concurrency: 8 },
    { label: `floor: http.request, ${DEFAULT_WORKERS} at a time`, slug: 'floor4', role: 'floor', concurrency: DEFAULT_WORKERS },
    { label: 'floor: http.request, 8 at a time', slug: 'floor8', role: 'floor', concurrency: 8 },
    { label: `rclone copy --transfers ${DEFAULT_WORKERS}`, slug: 'rclone', role: 'rclone', concurrency: DEFAULT_WORKERS },
  ];
  const samples = new Map<string, InitialSample[]>(contenders.map((c) => [c.slug, []]));
  for (let run = 1; run <= options.runs; run++) {
    // rclone (ten times slower, and not what the target is judged on) only in run 1.
    const inRun = run === 1 ? contenders : contenders.filter((c) => c.role !== 'rclone');
    const order = inRun.map((_, i) => inRun[(i + run - 1) % inRun.length]!);
    for (const contender of order) {
      const folder = `initial-${run}-${contender.slug}`;
      try {
        // No dirty pages of the one before: written back untimed.
        execFileSync('sync');
        const sample = await runInitial(contender, { server, dataDir, pristine, folder, fixtures, rclone });
        verifyOnServer(path.join(server.rootDir, folder), fixtures);
        samples.get(contender.slug)!.push(sample);
        log(`sync: initial run ${run}/${options.runs} — ${contender.label}: ${fixed(sample.seconds, 2)} s (client CPU ${fixed(sample.cpu, 2)} s), verified`);
      } catch (error) {
        throw new Error(`initial sync, ${contender.label}, run ${run}: ${(error as Error).message}`, { cause: error });
      } finally {
        fs.rmSync(path.join(server.rootDir, folder), { recursive: true, force: true });
      }
    }
  }
  return { fixtures, totalBytes, setupSeconds, contenders, samples, rcloneVersion: rclone.version };
}

/** Files added the way a person adds them (`files.create`: staged, hashed, fsynced, committed). */
async function addInitialFiles(dataDir: string, count: number): Promise<Fixture[]> {
  const config = loadConfig(
    { DOCSYNC_DATA_DIR: dataDir, DOCSYNC_REMOTE: 'none', DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD, DOCSYNC_LOG_LEVEL: 'silent' },
    {},
    dataDir,
  );
  const docsync = openDocsync(config);
  const random = seededIdSource(20_000);
  const fixtures: Fixture[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const u = random.bytes(4).readUInt32LE() / 2 ** 32;
      const size = Math.round(MIN_FILE_BYTES * (MAX_FILE_BYTES / MIN_FILE_BYTES) ** u);
      const ext = EXTENSIONS[i % EXTENSIONS.length]!;
      const file = await docsync.files.create(Readable.from([seededBytes('initial', i, size)]), { filename: `document-${String(i).padStart(5, '0')}.${ext}` });
      fixtures.push({ rel: `${file.hash.slice(0, 2)}/${file.hash}.${file.file_type}`, hash: file.hash, size: file.size });
    }
  } finally {
    // Closing the last connection folds the WAL into docsync.db: the copy taken next is complete.
    docsync.close();
  }
  return fixtures;
}

interface InitialContext {
  server: WebDavTestServer;
  dataDir: string;
  pristine: string;
  folder: string;
  fixtures: Fixture[];
  rclone: RcloneSetup;
}

async function runInitial(contender: InitialContender, ctx: InitialContext): Promise<InitialSample> {
  switch (contender.role) {
    case 'docsync':
      return docsyncInitial(ctx, contender.concurrency);
    case 'floor':
      return floorInitial(ctx, contender.concurrency);
    case 'rclone': {
      const args = ['copy', path.join(ctx.dataDir, 'blobs'), `:webdav:${ctx.folder}`, '--transfers', String(contender.concurrency)];
      const { seconds } = await timed(() => runRclone(ctx.rclone, ctx.server, args));
      return { seconds, cpu: Number.NaN, requests: 'n/a' };
    }
  }
}

/** A fresh instance (its database as it was right after the files were added) syncs to an empty folder. */
async function docsyncInitial(ctx: InitialContext, workers: number): Promise<InitialSample> {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(ctx.dataDir, `docsync.db${suffix}`), { force: true });
  fs.copyFileSync(ctx.pristine, path.join(ctx.dataDir, 'docsync.db'));
  const instance = openInstance(ctx.dataDir, ctx.server, `/${ctx.folder}`, workers);
  try {
    const phases = trackPhases(instance.docsync);
    const sample = await timed(() => instance.docsync.sync.sync());
    const summary = sample.result;
    if (summary.uploaded !== ctx.fixtures.length || summary.errors !== 0) throw new Error(`unexpected summary: ${JSON.stringify(summary)}`);
    const reading = instance.meter.take();
    return { seconds: sample.seconds, cpu: sample.cpu, requests: `${int(reading.totalCalls)}: ${describeCalls(reading.calls)}`, phases: phases.stop() };
  } finally {
    instance.docsync.close();
  }
}

/**
 * The floor: the least any client must do to put these blobs on an empty server in docsync's layout —
 * MKCOL the folder, MKCOL each shard folder once (before the first PUT into it), PUT every blob
 * (streamed from the same local blob files, Content-Length), C requests in flight on a keep-alive agent.
 */
async function floorInitial(ctx: InitialContext, concurrency: number): Promise<InitialSample> {
  const { server, folder, fixtures } = ctx;
  const base = new URL(server.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const authorization = basicAuth(server);
  let requests = 0;
  const send = (method: 'PUT' | 'MKCOL', rel: string, body?: { size: number; file: string }): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      requests++;
      const headers: http.OutgoingHttpHeaders = { authorization };
      if (body) {
        headers['content-type'] = 'application/octet-stream';
        headers['content-length'] = body.size;
      }
      const req = http.request({ host: base.hostname, port: base.port, path: `${base.pathname}/${rel}`, method, headers, agent }, (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 201 || res.statusCode === 204 ? resolve() : reject(new Error(`${method} ${rel} answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      if (body) pipeline(fs.createReadStream(body.file), req).catch(reject);
      else req.end();
    });
  const blobs = path.join(ctx.dataDir, 'blobs');
  try {
    const sample = await timed(async () => {
      await send('MKCOL', `${folder}/`);
      const shards = new Map<string, Promise<void>>();
      await pool(fixtures, concurrency, async (f) => {
        const shard = f.rel.slice(0, 2);
        if (!shards.has(shard)) shards.set(shard, send('MKCOL', `${folder}/${shard}/`));
        await shards.get(shard);
        await send('PUT', `${folder}/${f.rel}`, { size: f.size, file: path.join(blobs, f.rel) });
      });
      return shards.size;
    });
    return { seconds: sample.seconds, cpu: sample.cpu, requests: `${int(requests)}: PUT ×${int(fixtures.length)}, MKCOL ×${sample.result + 1}` };
  } finally {
    agent.destroy();
  }
}

/** Every blob is on the server's disk under `ab/<sha256>.<ext>`, its size and SHA-256 right. */
function verifyOnServer(dir: string, fixtures: Fixture[]): void {
  for (const f of fixtures) {
    const file = path.join(dir, f.rel);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      throw new Error(`${f.rel} is missing on the server`);
    }
    if (bytes.length !== f.size || createHash('sha256').update(bytes).digest('hex') !== f.hash) {
      throw new Error(`${f.rel} on the server differs (${bytes.length} bytes, expected ${f.size})`);
    }
  }
  const blobs = fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f]{64}\./.test(e.name)).length;
  if (blobs !== fixtures.length) throw new Error(`the server holds ${blobs} blobs, expected ${fixtures.length}`);
}

// ---- helpers ----

/** Deterministic incompressible bytes: AES-128-CTR over zeros, keyed by (label, index). */
function seededBytes(label: string, index: number, size: number): Buffer {
  const key = createHash('sha256').update(`docsync-bench:${label}:${index}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return cipher.update(Buffer.alloc(size));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; cpu: number; result: T }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, result };
}

const basicAuth = (s: WebDavTestServer): string => `Basic ${Buffer.from(`${s.username}:${s.password}`).toString('base64')}`;

function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Which sample the nearest-rank p99 of `n` samples is, counted from the worst: "worst", "2nd worst", … */
function ordinalWorst(n: number): string {
  const fromTop = n - Math.ceil(0.99 * n) + 1;
  return fromTop === 1 ? 'worst' : fromTop === 2 ? '2nd worst' : fromTop === 3 ? '3rd worst' : `${fromTop}th worst`;
}

const pair = (samples: number[]): string => `${ms(percentile(sorted(samples), 50))} / ${ms(percentile(sorted(samples), 99))}`;
const ms = (n: number): string => (n < 10 ? fixed(n, 2) : n < 100 ? fixed(n, 1) : fixed(n, 0));
const mbOf = (bytes: number): string => fixed(bytes / 1e6, bytes >= 1e6 ? 1 : 3);
const loadNote = (loads: { start: number; mid: number; end: number }): string =>
  `${sourceLine()}. 1-min load average ${fixed(loads.start, 2)} at the start of the section, ${fixed(loads.mid, 2)} after the per-size part, ${fixed(loads.end, 2)} at the end (${os.cpus().length} cores; shared machine).`;

// ---- tables ----

function noChangeTable(results: SizeResult[], options: SyncBenchOptions, loads: { start: number; mid: number; end: number }): Table {
  const fastest = Math.min(...results.map((r) => percentile(sorted(r.noChange.samplesMs), 50)));
  const rows: Row[] = results.map((r) => {
    const s = sorted(r.noChange.samplesMs);
    const p50 = percentile(s, 50);
    const p99 = percentile(s, 99);
    const flat = p50 <= Math.max(FLAT_FACTOR * fastest, fastest + FLAT_SLACK_MS);
    return {
      cells: [
        int(r.files),
        mbOf(r.snapshotBytes),
        ms(p50),
        ms(p99),
        ms(s.at(-1)!),
        pair(r.noChange.floorMs),
        pair(r.noChange.localLockMs),
        `${fixed(r.noChange.requestsPerSync, 1)} (${r.noChange.requests})`,
        fixed(r.noChange.callsPerSync, 1),
        `p99 < ${NO_CHANGE_P99_TARGET_MS} ms, flat`,
      ],
      ok: p99 < NO_CHANGE_P99_TARGET_MS && flat,
    };
  });
  return {
    title: 'Sync 1/3 — no-change sync on loopback Apache (ms)',
    columns: [
      'files',
      'snapshot MB',
      'sync p50',
      'sync p99',
      'sync max',
      'GET version.txt p50 / p99',
      'local lock p50 / p99',
      'HTTP requests / sync',
      'remote calls / sync',
      'target',
    ],
    textColumns: [7, 9],
    rows,
    notes: [
      `sync = \`await docsync.sync.sync()\` in-process (the body of POST /api/v1/sync), ${options.noChangeRuns} timed runs after ${NO_CHANGE_WARMUP} untimed (the first`,
      'of which probes the server\'s capabilities, remembered after that); each checked to be a skip (`skipped: true`). Each sync is followed,',
      'in the same loop, by one bare GET of version.txt and one local lock (the next two columns): a stall of this shared machine is as',
      `likely to hit those as the sync. p99 = nearest rank: of ${options.noChangeRuns} samples, the ${ordinalWorst(options.noChangeRuns)}.`,
      'Seeded, not synced: N local rows `synced` at remote_version 1; the same rows upserted into a state and committed as version 1',
      'through RemoteMetadataStore (version.txt + journal/000001-… + snapshots/000001-….db, exactly as docsync writes them); each instance',
      'gets a copy of that state as its remote-state.db; sync state markSeen(head) + repo id.',
      'No blobs (a no-change sync reads none). Rows: RowFactory (bench/rows.ts), all made live and synced.',
      'GET version.txt = the same GET with a bare keep-alive http.request: the round trip a no-change sync cannot avoid.',
      'local lock = acquireLocalSyncLock(dataDir)() alone (src/sync/local-sync-lock.ts: create sync.lock with O_EXCL, write, unlink),',
      '  which every sync does before anything else; on the same data dir.',
      `HTTP requests / sync: counted at a reverse proxy in front of Apache (same data dir, ${PROXY_COUNT_RUNS} syncs); remote calls / sync: counted`,
      'inside the timed runs by a Remote decorator between RetryingRemote and WebDavRemote (every attempt counts).',
      `Target: p99 < ${NO_CHANGE_P99_TARGET_MS} ms, and flat = p50 ≤ max(${FLAT_FACTOR}× the fastest size's p50, fastest + ${FLAT_SLACK_MS} ms).`,
      loadNote(loads),
    ],
  };
}

function initialTable(result: InitialResult, options: SyncBenchOptions, loads: { start: number; mid: number; end: number }): Table {
  const of = (slug: string): InitialSample[] => result.samples.get(slug)!;
  // Paired: a run's seconds ÷ the reference's seconds in the same run (rclone ran in run 1 only).
  const ratio = (slug: string, ref: string): number => median(of(slug).map((x, i) => x.seconds / of(ref)[i]!.seconds));
  const rows: Row[] = result.contenders.map((c) => {
    const s = median(of(c.slug).map((x) => x.seconds));
    const sameC = c.concurrency === 8 ? 'floor8' : 'floor4';
    const isTarget = c.slug === 'docsync4';
    return {
      cells: [
        c.label,
        fixed(s, 2),
        fixed(result.totalBytes / 1e6 / s, 0),
        `${fixed(ratio(c.slug, 'floor4'), 2)}×`,
        `${fixed(ratio(c.slug, sameC), 2)}×`,
        isTarget ? `≤ ${INITIAL_RATIO_TARGET}× floor (C=4)` : '—',
        c.role === 'rclone' ? 'n/a' : fixed(median(of(c.slug).map((x) => x.cpu)), 2),
        of(c.slug).map((x) => fixed(x.seconds, 2)).join(' '),
      ],
      ...(isTarget && { ok: ratio(c.slug, 'floor4') <= INITIAL_RATIO_TARGET }),
    };
  });
  const docsync4 = of('docsync4');
  const requestsOf = (slug: string): string => of(slug)[0]?.requests ?? '';
  return {
    title: `Sync 2/3 — initial sync of ${int(result.fixtures.length)} files (${fixed(result.totalBytes / 1e6, 1)} MB) to an empty folder on loopback Apache`,
    columns: ['contender', 'median s', 'MB/s', '÷ floor C=4', '÷ floor same C', 'target', 'client CPU s', 'each run (s)'],
    textColumns: [5, 7],
    rows,
    notes: [
      `Files: sizes log-uniform from 1 KiB to 1 MiB (seeded), incompressible content (AES-CTR, seeded), .pdf/.tei.xml/.txt; added to a fresh`,
      `instance with files.create (${fixed(result.setupSeconds, 1)} s, untimed). Every run of every contender starts from that same state, in its own empty folder.`,
      `docsync: \`await docsync.sync.sync()\` in-process on a fresh instance (its database copied back from right after the files were added),`,
      'timed whole: capability probe (first contact), remote lock, empty snapshot, MKCOL of each shard folder, the PUTs, one listing per',
      'shard confirming them, snapshot upload, version.txt, read-back, lock release, local rows marked synced. 4 workers =',
      'DOCSYNC_TRANSFER_WORKERS default; 8 = the same set to 8. Steps as in 3/3 below.',
      `docsync phases (median ms, 4 workers): ${describePhases(docsync4.map((x) => x.phases!))}.`,
      `docsync remote calls, run 1: 4 workers ${requestsOf('docsync4')}; 8 workers ${requestsOf('docsync8').replace(/:.*/, '')}.`,
      `docsync phases (median ms, 8 workers): ${describePhases(of('docsync8').map((x) => x.phases!))}.`,
      'floor: bare http.request on a keep-alive agent (maxSockets = C), C requests in flight: MKCOL of the folder, MKCOL of each shard',
      'folder before its first PUT, every blob PUT streamed from the same local blob file with Content-Length. ' + `Requests: ${requestsOf('floor4')}.`,
      `${result.rcloneVersion}: \`rclone copy <data dir>/blobs :webdav:<folder> --transfers 4\` (same shard layout), process start included;`,
      'run 1 only (its webdav backend paces API calls ≥ 10 ms apart, not tunable before v1.63: ~10× the floor whatever the load).',
      `÷ floor: median over the ${options.runs} runs of (seconds ÷ the floor's seconds in the same run); contenders back to back, order rotated`,
      'each run; `sync` (untimed) before each. Verified after each (untimed): every blob on the server disk with its size and SHA-256, no more.',
      'client CPU s = user+sys of the bench process during the timing (docsync or the floor client; Apache not included). MB = 10^6 B.',
      loadNote(loads),
    ],
  };
}

function changeTable(results: SizeResult[], options: SyncBenchOptions, loads: { start: number; mid: number; end: number }): Table {
  const rows: Row[] = [];
  for (const r of results) {
    for (const [direction, runs] of [
      ['push (A: 10 edits → remote)', r.change.push],
      ['pull (remote → B)', r.change.pull],
    ] as const) {
      const m = (pick: (x: ChangeRun) => number): number => median(runs.map(pick));
      rows.push({
        cells: [
          int(r.files),
          direction,
          fixed(m((x) => x.seconds), 3),
          `${mbOf(m((x) => x.reading.up.blob))} / ${mbOf(m((x) => x.reading.down.blob))}`,
          `${mbOf(m((x) => x.reading.up.snapshot))} / ${mbOf(m((x) => x.reading.down.snapshot))}`,
          `${fixed(m((x) => x.reading.up.journal) / 1e3, 1)} / ${fixed(m((x) => x.reading.down.journal) / 1e3, 1)}`,
          `${fixed(m((x) => x.reading.up.control) / 1e3, 1)} / ${fixed(m((x) => x.reading.down.control) / 1e3, 1)}`,
          fixed(m((x) => x.reading.totalCalls), 0),
          describePhases(runs.map((x) => x.phases)),
          runs.map((x) => fixed(x.seconds, 3)).join(' '),
        ],
      });
    }
  }
  const last = results.at(-1);
  return {
    title: 'Sync 3/3 — a 10-file change: push from instance A, then pull into instance B, on loopback Apache',
    columns: ['files', 'direction', 'median s', 'blob MB up / down', 'snapshot MB up / down', 'journal kB up / down', 'other kB up / down', 'remote calls', 'phases (median ms)', 'each run (s)'],
    textColumns: [1, 8],
    rows,
    notes: [
      `Two instances seeded in sync with the remote (as in 1/3). Per run: ${EDITS} content edits on A (files.replaceContent, ${int(EDIT_BYTES)} B of new`,
      `content each), then \`await A.sync.sync()\` timed (push), then \`await B.sync.sync()\` timed (pull); ${options.runs} runs, new files each run, median shown.`,
      'Checked: A uploaded 10 and B downloaded 10 (no errors, no metadata-only), and B\'s rows carry A\'s new hashes, synced.',
      'Bytes are payload bytes at the Remote interface (HTTP bodies; headers not counted), by a decorator under RetryingRemote:',
      'blob = ab/<sha256>.<ext>; snapshot = snapshots/*.db (format 2; metadata/*.db in format 1); journal = journal/* (the per-commit',
      'deltas of format 2); other = version.txt, the lock owner file. remote calls = every Remote call.',
      'Format 2: a push uploads its delta (and a snapshot written from the kept state when a compaction is due: every 64 commits),',
      'a pull downloads the deltas it lacks and applies them to its kept state (remote-state.db); neither downloads the snapshot.',
      `The blobs and the number of requests depend on the change only.${last ? ` Snapshot size: ${results.map((r) => `${mbOf(r.snapshotBytes)} MB at ${int(r.files)} files`).join(', ')}.` : ''}`,
      'Phases from the progress events: check = skip check; lock = remote lock; metadata get = version.txt + the deltas (or snapshot) + verify + apply;',
      'plan = local and snapshot queries, the plan; blobs up/down = the transfers; confirm = from the last upload to the commit: one',
      'listing (PROPFIND) per shard folder confirming the uploads, snapshot rows written, lock checked; commit = snapshot upload and its',
      'size check, lock and head checked, version.txt, read-back, prune, local rows marked synced, lock release.',
      `Part of every plan: fileRepository.pendingChanges() (the local rows to push), timed alone with nothing pending: ${results
        .map((r) => `${ms(r.pendingChangesMs)} ms at ${int(r.files)} files`)
        .join(', ')}.`,
      loadNote(loads),
    ],
  };
}
