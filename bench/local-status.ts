import http from 'node:http';
import { buildApp } from '../src/http/app.ts';
import type { Docsync } from '../src/docsync.ts';
import { tempDir } from './cleanup.ts';
import { BENCH_PASSWORD, benchEnv, openBenchDocsync } from './instance.ts';
import { RowFactory, statusOf } from './rows.ts';
import { startServer } from './server.ts';
import { sampleAsync, sampleSync, timeSeconds, type Latency } from './stats.ts';
import { fixed, int, us, type Row, type Table } from './table.ts';

export interface StatusOptions {
  sizes: number[];
  iterations: number;
}

/** The target: status p50 under 1 ms at any size… */
const STATUS_P50_TARGET_US = 1000;
/**
 * …and independent of row count, read here as "p50 at most 2× the fastest size's p50": a µs-scale
 * p50 moves with JIT and cache state, and the first size measured is often the slowest.
 */
const FLAT_FACTOR = 2;
/** Rows per `insertMany` call while filling: bounds memory and the WAL of one transaction. */
const FILL_BATCH = 100_000;
/** Lookups pick from this many ids spread over the table (holding 1M ids would only cost memory). */
const SAMPLE_IDS = 10_000;

interface Fill {
  seconds: number;
  expectedUnsynced: number;
  sampleIds: string[];
}

interface SizeResult {
  rows: number;
  fill: Fill;
  unsynced: number;
  status: Latency;
  unsyncedCount: Latency;
  get: Latency;
  inject: Latency;
  server: { status: Latency; health: Latency };
}

/** What is measured in the bench's own process. */
type InProcess = Omit<SizeResult, 'rows' | 'fill' | 'server'>;

export async function benchLocalStatus(options: StatusOptions, log: (line: string) => void): Promise<Table> {
  const results: SizeResult[] = [];
  for (const rows of options.sizes) results.push(await measureAt(rows, options.iterations, log));
  return statusTable(results, options.iterations);
}

async function measureAt(rows: number, iterations: number, log: (line: string) => void): Promise<SizeResult> {
  const tmp = tempDir(`status-${rows}`);
  try {
    log(`status: filling ${int(rows)} rows…`);
    const fill = fillDataDir(tmp.dir, rows);
    log(`status: filled in ${fixed(fill.seconds, 1)} s; measuring ${int(iterations)} calls each…`);
    // Reopened after the fill, as a server starting on an existing data dir would find it.
    const docsync = openBenchDocsync(tmp.dir);
    let local: InProcess;
    try {
      local = await measureInProcess(docsync, fill, iterations);
    } finally {
      docsync.close();
    }
    log('status: measuring GET /api/v1/sync/status on a spawned server…');
    const server = await measureServer(tmp.dir, iterations);
    return { rows, fill, ...local, server };
  } finally {
    tmp.remove();
  }
}

/** Inserts `rows` rows with `insertMany` in batches; times the inserts only, not the row generation. */
function fillDataDir(dataDir: string, rows: number): Fill {
  const factory = new RowFactory(rows);
  const docsync = openBenchDocsync(dataDir);
  const sampleIds: string[] = [];
  const every = Math.max(1, Math.floor(rows / SAMPLE_IDS));
  let seconds = 0;
  let expectedUnsynced = 0;
  try {
    for (let from = 0; from < rows; from += FILL_BATCH) {
      const batch = factory.batch(from, Math.min(rows, from + FILL_BATCH));
      seconds += timeSeconds(() => docsync.fileRepository.insertMany(batch));
      batch.forEach((file, k) => {
        if (file.sync_status !== 'synced') expectedUnsynced++;
        if (!file.deleted && (from + k) % every === 0) sampleIds.push(file.stable_id);
      });
    }
  } finally {
    docsync.close();
  }
  return { seconds, expectedUnsynced, sampleIds };
}

async function measureInProcess(docsync: Docsync, fill: Fill, iterations: number): Promise<InProcess> {
  const warmup = Math.max(100, Math.floor(iterations / 4));
  const unsynced = (await docsync.sync.status()).unsynced_count;
  if (unsynced !== fill.expectedUnsynced || docsync.fileRepository.unsyncedCount() !== unsynced) {
    throw new Error(`unsynced count is ${unsynced}, expected ${fill.expectedUnsynced}`);
  }
  const ids = fill.sampleIds;
  const randomId = (): string => ids[Math.floor(Math.random() * ids.length)]!;
  // Awaited: status() is async once a remote can be asked (with no remote it answers from the database alone).
  const status = await sampleAsync(async () => docsync.sync.status(), iterations, warmup);
  const unsyncedCount = sampleSync(() => docsync.fileRepository.unsyncedCount(), iterations, warmup);
  const get = sampleSync(() => docsync.files.get(randomId()), iterations, warmup);
  const inject = await measureInject(docsync, iterations, warmup);
  return { unsynced, status, unsyncedCount, get, inject };
}

/** The whole HTTP stack (routing, session check, serialization) without a socket: Fastify's `inject`. */
async function measureInject(docsync: Docsync, iterations: number, warmup: number): Promise<Latency> {
  await docsync.auth.ensureAdmin(BENCH_PASSWORD);
  const app = await buildApp(docsync);
  try {
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: BENCH_PASSWORD } });
    const headers = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
    return await sampleAsync(
      async () => {
        const res = await app.inject({ method: 'GET', url: '/api/v1/sync/status', headers });
        if (res.statusCode !== 200) throw new Error(`status answered ${res.statusCode}: ${res.body}`);
      },
      iterations,
      warmup,
    );
  } finally {
    await app.close();
  }
}

/**
 * A real `docsync serve` on the filled data dir, asked over loopback one request at a time. The
 * client is `node:http` with a keep-alive agent: on this machine it adds less than `fetch` does.
 * `/health` (no session; two one-page database reads) is measured the same way, as the floor of a round trip.
 */
async function measureServer(dataDir: string, iterations: number): Promise<{ status: Latency; health: Latency }> {
  const server = await startServer({ ...benchEnv(dataDir), DOCSYNC_LOG_LEVEL: 'warn' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const warmup = Math.max(100, Math.floor(iterations / 4));
    const status = await sampleAsync(() => httpGet(`${server.baseUrl}/api/v1/sync/status`, agent, server.auth), iterations, warmup);
    const health = await sampleAsync(() => httpGet(`${server.baseUrl}/api/v1/health`, agent, {}), iterations, warmup);
    return { status, health };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

function httpGet(url: string, agent: http.Agent, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

function statusTable(results: SizeResult[], iterations: number): Table {
  const baseline = Math.min(...results.map((r) => r.status.p50));
  const pair = (l: Latency): string => `${us(l.p50)} / ${us(l.p99)}`;
  const rows: Row[] = results.map((r) => {
    const flat = r.status.p50 <= FLAT_FACTOR * baseline;
    return {
      cells: [
        int(r.rows),
        int(r.unsynced),
        fixed(r.fill.seconds, 2),
        int(r.rows / r.fill.seconds),
        pair(r.status),
        pair(r.unsyncedCount),
        pair(r.get),
        us(r.inject.p50),
        `${us(r.server.status.p50)} (health ${us(r.server.health.p50)})`,
        `p50 < 1 ms, ≤ ${FLAT_FACTOR}× fastest size`,
      ],
      ok: r.status.p50 < STATUS_P50_TARGET_US && flat,
    };
  });
  return {
    title: 'Local status (latencies in µs, p50 / p99)',
    columns: ['rows', 'unsynced', 'fill s', 'fill rows/s', 'status()', 'unsyncedCount()', 'files.get(id)', 'HTTP inject p50', 'HTTP server p50', 'target (status)'],
    textColumns: [9],
    rows,
    notes: [
      `${int(iterations)} timed calls per column after a warm-up; status() = docsync.sync.status(), the body of GET /api/v1/sync/status.`,
      `Rows: ${shares()}; fill = insertMany in ${int(FILL_BATCH)}-row transactions into a fresh data dir (row generation not timed).`,
      'files.get(id): random live ids spread over the whole table. DOCSYNC_REMOTE=none: the local answer only, no remote read.',
      'HTTP inject = app.inject() in-process with an X-Session-Id session (routing, auth, serialization; no socket).',
      'HTTP server = a spawned `docsync serve` on the same data dir, one keep-alive node:http GET at a time over 127.0.0.1;',
      '  (health …) = GET /api/v1/health on the same connection: the round trip without session check (its database probe reads two small pages).',
    ],
  };
}

/** "1% modified, …" computed from `statusOf`, so the note cannot drift from the data. */
function shares(): string {
  const counts = new Map<string, number>();
  const n = 100_000;
  for (let i = 0; i < n; i++) counts.set(statusOf(i), (counts.get(statusOf(i)) ?? 0) + 1);
  return [...counts].map(([status, c]) => `${((100 * c) / n).toFixed(2)}% ${status}`).join(', ');
}
