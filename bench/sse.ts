/**
 * `sse` section (issue 5): N connected SSE clients (default 1,000) on a spawned `docsync serve`,
 * receiving the progress stream of a real sync (default 200 small files pushed to a folder remote:
 * one `syncProgress` event per uploaded file, ~210 events in all). All clients are tabs of ONE
 * logged-in session, the one that starts the sync with `POST /api/v1/sync`: progress goes to the
 * session that asked for it, and every tab of that session gets every event (docs/design.md#events-sse).
 * Clients are raw TCP sockets (request written by hand, stream scanned as text), in this process.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SyncSummary } from '../src/sync/events.ts';
import { onCleanup, tempDir } from './cleanup.ts';
import { BENCH_PASSWORD } from './instance.ts';
import { readMemory, sampleRss, startServer, type ServerProcess } from './server.ts';
import { percentile } from './stats.ts';
import { fixed, int, mb, sourceLine, type Row, type Table } from './table.ts';

export interface SseBenchOptions {
  clients: number;
  /** Files each run's sync uploads: one progress event each. */
  files: number;
  /** Streams measured (one sync each), the same clients staying connected; median shown. */
  runs: number;
}

const P99_TARGET_MS = 50;
const RSS_TARGET_BYTES = 200e6;
const FILE_BYTES = 1024;
const CONNECT_BATCH = 100;
const RSS_SAMPLE_MS = 20;
const COMPLETE_TIMEOUT_MS = 180_000;
const FLOOR_EVENTS = 50;
const FLOOR_INTERVAL_MS = 100;
const FLOOR_SCRIPT = fileURLToPath(new URL('./sse-hub-floor.ts', import.meta.url));

type Log = (line: string) => void;

/** Where a client connects: `headers` are extra request header lines, each ending in CRLF. */
interface StreamTarget {
  hostname: string;
  port: number;
  path: string;
  headers: string;
}

/** Opens `count` clients, `CONNECT_BATCH` at a time. */
async function openClients(target: StreamTarget, count: number, onComplete: () => void): Promise<Client[]> {
  const clients: Client[] = [];
  for (let from = 0; from < count; from += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, count - from);
    clients.push(...(await Promise.all(Array.from({ length: batch }, () => openClient(target, onComplete)))));
  }
  return clients;
}

/** One tab: a raw SSE stream, every event's id and arrival time (performance.now() at the chunk's arrival). */
interface Client {
  ids: number[];
  times: number[];
  completeAt: number | undefined;
  socket: net.Socket;
}

interface StreamRun {
  delivery: Delivery;
  /** POST /sync sent → last client has syncComplete. */
  endToEndMs: number;
  firstCompleteMs: number;
  responseMs: number;
  serverDurationMs: number;
  rssPeak: number;
  /** CPU seconds the server process used during the stream. */
  serverCpu: number;
  /** This process during the stream: CPU as a share of one core, event-loop delay p99 (ms). */
  clientCpu: number;
  clientLoopP99: number;
  load: number;
}

interface ServerFacts {
  identity: string;
  startRss: number;
  idleRss: number;
  connectedRss: number;
  hwm: number;
  connectSeconds: number;
  loadBefore: number;
  /** The same sync with no client connected: POST /sync response time and server CPU. */
  alone: { responseMs: number; serverCpu: number };
  /** SseHub alone in its own process: fan-out lag, and the cost of one publish (median ms). */
  floor: Floor;
}

export async function benchSse(options: SseBenchOptions, log: Log): Promise<Table> {
  const tmp = tempDir('sse');
  let server: ServerProcess | undefined;
  const clients: Client[] = [];
  try {
    const dataDir = path.join(tmp.dir, 'data');
    const remoteDir = path.join(tmp.dir, 'remote');
    fs.mkdirSync(remoteDir, { recursive: true });
    const loadBefore = os.loadavg()[0]!;
    server = await startServer({
      DOCSYNC_DATA_DIR: dataDir,
      DOCSYNC_REMOTE: pathToFileURL(remoteDir).href,
      DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD,
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_LOG_LEVEL: 'warn',
    });
    const srv = server;
    // First contact probes the remote's capabilities (remembered): done here, outside the measurements.
    const status = await fetch(`${srv.baseUrl}/api/v1/sync/status`, { headers: srv.auth });
    if (status.status !== 200) throw new Error(`sync status answered ${status.status}: ${await status.text()}`);
    const idleRss = readMemory(srv.pid).rss;

    log(`sse: baseline: ${int(options.files)} files uploaded, then the same sync with no client connected…`);
    await uploadFiles(srv, options.files, 0);
    const aloneCpu = serverCpuSeconds(srv.pid);
    const aloneStart = performance.now();
    await postSync(srv, options.files);
    const alone = { responseMs: performance.now() - aloneStart, serverCpu: serverCpuSeconds(srv.pid) - aloneCpu };

    log(`sse: connecting ${int(options.clients)} clients (one session) to pid ${srv.pid}…`);
    let completed = 0;
    let allComplete: () => void = () => undefined;
    const onComplete = (): void => {
      if (++completed === options.clients) allComplete();
    };
    const connectStart = performance.now();
    const { hostname, port } = new URL(srv.baseUrl);
    const target = { hostname, port: Number(port), path: '/api/v1/sse/subscribe', headers: `X-Session-Id: ${srv.auth['x-session-id']}\r\n` };
    clients.push(...(await openClients(target, options.clients, onComplete)));
    const connectSeconds = (performance.now() - connectStart) / 1000;
    // Let the server settle (GC after the connection burst) before the baseline reading.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const connectedRss = readMemory(srv.pid).rss;
    log(`sse: ${int(clients.length)} connected in ${fixed(connectSeconds, 2)} s`);

    const runs: StreamRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      log(`sse: run ${run}/${options.runs}: uploading ${int(options.files)} files of ${int(FILE_BYTES)} B (POST /api/v1/files), then POST /api/v1/sync…`);
      await uploadFiles(srv, options.files, run);
      for (const client of clients) {
        client.ids = [];
        client.times = [];
        client.completeAt = undefined;
      }
      completed = 0;
      const done = new Promise<void>((resolve) => (allComplete = resolve));
      const result = await streamOnce(srv, clients, options, done, () => completed);
      runs.push(result);
      log(
        `sse: run ${run}: fan-out lag p50 ${ms(result.delivery.p50)} / p99 ${ms(result.delivery.p99)} ms, ` +
          `end to end ${ms(result.endToEndMs)} ms, load ${fixed(result.load, 2)}`,
      );
    }
    const hwm = readMemory(srv.pid).hwm;
    const { identity, startRss } = srv;
    for (const client of clients) client.socket.destroy();
    await srv.stop();
    server = undefined;
    log(`sse: floor: SseHub alone in a child process, ${FLOOR_EVENTS} events ${FLOOR_INTERVAL_MS} ms apart to ${int(options.clients)} clients…`);
    const floor = await measureFloor(options.clients);
    return sseTable(runs, options, { identity, startRss, idleRss, connectedRss, hwm, connectSeconds, loadBefore, alone, floor });
  } finally {
    for (const client of clients) client.socket.destroy();
    await server?.stop();
    tmp.remove();
  }
}

/** One sync's progress stream to every client: POST /api/v1/sync from the clients' session. */
async function streamOnce(
  srv: ServerProcess,
  clients: Client[],
  options: SseBenchOptions,
  done: Promise<void>,
  completed: () => number,
): Promise<StreamRun> {
  const sampler = sampleRss(srv.pid, RSS_SAMPLE_MS);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpuStart = process.cpuUsage();
  const serverCpuStart = serverCpuSeconds(srv.pid);
  const t0 = performance.now();
  const summary = await postSync(srv, options.files);
  const responseAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`only ${completed()} of ${clients.length} clients got syncComplete within ${COMPLETE_TIMEOUT_MS / 1000} s`)),
        COMPLETE_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const completes = clients.map((c) => c.completeAt!);
  const lastCompleteAt = Math.max(...completes);
  const cpu = process.cpuUsage(cpuStart);
  const serverCpu = serverCpuSeconds(srv.pid) - serverCpuStart;
  loop.disable();
  const rss = sampler.stop();
  const endToEndMs = lastCompleteAt - t0;
  return {
    delivery: analyse(clients),
    endToEndMs,
    firstCompleteMs: Math.min(...completes) - t0,
    responseMs: responseAt - t0,
    serverDurationMs: summary.duration_ms,
    rssPeak: rss.peak,
    serverCpu,
    clientCpu: (cpu.user + cpu.system) / 1000 / endToEndMs,
    clientLoopP99: loop.percentile(99) / 1e6,
    load: os.loadavg()[0]!,
  };
}

function sseTable(runs: StreamRun[], options: SseBenchOptions, facts: ServerFacts): Table {
  const med = (pick: (r: StreamRun) => number): number => median(runs.map(pick));
  const each = (pick: (r: StreamRun) => number): string => runs.map((r) => ms(pick(r))).join(' ');
  const p99 = med((r) => r.delivery.p99);
  const allComplete = runs.every((r) => r.delivery.complete === options.clients && r.delivery.events > options.files);
  const rows: Row[] = [
    {
      cells: [
        'fan-out lag per event and client: p50 / p99 / max',
        `${ms(med((r) => r.delivery.p50))} / ${ms(p99)} / ${ms(med((r) => r.delivery.max))} ms`,
        `p99 < ${P99_TARGET_MS} ms`,
        `p99: ${each((r) => r.delivery.p99)}`,
      ],
      ok: p99 < P99_TARGET_MS,
    },
    {
      cells: [
        'spread per event (last client − first client): p50 / p99 / max',
        `${ms(med((r) => r.delivery.spreadP50))} / ${ms(med((r) => r.delivery.spreadP99))} / ${ms(med((r) => r.delivery.spreadMax))} ms`,
        '—',
        `p99: ${each((r) => r.delivery.spreadP99)}`,
      ],
    },
    {
      cells: [
        'every client got every event of the sync, in order, nothing else',
        `${runs.map((r) => `${int(r.delivery.complete)}/${int(options.clients)}`).join(', ')} clients`,
        'all',
        `events per sync: ${runs.map((r) => r.delivery.events).join(' ')}`,
      ],
      ok: allComplete,
    },
    { cells: ['end to end: POST /sync sent → last client has syncComplete', `${ms(med((r) => r.endToEndMs))} ms`, '—', each((r) => r.endToEndMs)] },
    { cells: ['  POST /sync sent → first client has syncComplete', `${ms(med((r) => r.firstCompleteMs))} ms`, '—', each((r) => r.firstCompleteMs)] },
    {
      cells: [
        '  POST /sync sent → its 200 response read (server duration_ms)',
        `${ms(med((r) => r.responseMs))} ms (${ms(med((r) => r.serverDurationMs))} ms)`,
        '—',
        each((r) => r.responseMs),
      ],
    },
    {
      cells: ['server RSS at start / idle after login / all clients connected', `${mb(facts.startRss)} / ${mb(facts.idleRss)} / ${mb(facts.connectedRss)} MB`, '—', ''],
    },
    {
      cells: [
        `server RSS peak during each stream (sampled every ${RSS_SAMPLE_MS} ms)`,
        `${mb(Math.max(...runs.map((r) => r.rssPeak)))} MB`,
        '—',
        runs.map((r) => mb(r.rssPeak)).join(' '),
      ],
    },
    { cells: ['server VmHWM at the end (peak RSS over its whole life)', `${mb(facts.hwm)} MB`, `< ${mb(RSS_TARGET_BYTES)} MB`, ''], ok: facts.hwm < RSS_TARGET_BYTES },
    {
      cells: [
        'server CPU during the stream (user+sys, share of one core over end to end)',
        `${fixed(med((r) => r.serverCpu), 2)} s (${fixed(100 * med((r) => r.serverCpu / (r.endToEndMs / 1000)), 0)}%)`,
        '—',
        runs.map((r) => fixed(r.serverCpu, 2)).join(' '),
      ],
    },
    {
      cells: [
        '  the same sync with no client connected: POST /sync → response; server CPU',
        `${ms(facts.alone.responseMs)} ms; ${fixed(facts.alone.serverCpu, 2)} s (${fixed((100 * facts.alone.serverCpu) / (facts.alone.responseMs / 1000), 0)}%)`,
        '—',
        'once, before the clients connect',
      ],
    },
    {
      cells: [
        `floor: SseHub alone (own process, idle), ${FLOOR_EVENTS} events ${FLOOR_INTERVAL_MS} ms apart: lag p50 / p99 / max`,
        `${ms(facts.floor.delivery.p50)} / ${ms(facts.floor.delivery.p99)} / ${ms(facts.floor.delivery.max)} ms`,
        '—',
        `spread p50 / p99: ${ms(facts.floor.delivery.spreadP50)} / ${ms(facts.floor.delivery.spreadP99)}; ${facts.floor.delivery.complete}/${options.clients} complete`,
      ],
    },
    {
      cells: [
        `  one publish to ${int(options.clients)} clients in that process: wall / CPU (median)`,
        `${ms(facts.floor.wallMs)} / ${ms(facts.floor.cpuMs)} ms (${fixed((1000 * facts.floor.cpuMs) / options.clients, 1)} µs CPU per client)`,
        '—',
        `× ${runs[0]?.delivery.events ?? 0} events per sync = ${fixed(((runs[0]?.delivery.events ?? 0) * facts.floor.cpuMs) / 1000, 2)} s CPU`,
      ],
    },
    {
      cells: [
        'client process (this one) during the stream: CPU / event-loop delay p99',
        `${fixed(100 * med((r) => r.clientCpu), 0)}% of a core / ${ms(med((r) => r.clientLoopP99))} ms`,
        '—',
        `delay p99: ${each((r) => r.clientLoopP99)}`,
      ],
    },
    { cells: ['connecting all clients (batches of 100, one batch after another)', `${fixed(facts.connectSeconds, 2)} s`, '—', ''] },
    {
      cells: [
        `1-min load average (${os.cpus().length} cores, shared with other jobs)`,
        `${fixed(facts.loadBefore, 2)} before the server started`,
        '—',
        `after each run: ${runs.map((r) => fixed(r.load, 2)).join(' ')}`,
      ],
    },
  ];
  return {
    title: `SSE fan-out: ${int(options.clients)} clients of one session, a ${int(options.files)}-file sync's progress stream from a spawned server`,
    columns: ['measure', `median of ${runs.length} runs`, 'target', 'each run'],
    textColumns: [1, 2, 3],
    rows,
    notes: [
      `Server: ${facts.identity}; ${sourceLine()} (built to dist/ by npm run bench).`,
      'DOCSYNC_REMOTE=file://<tmp>/remote (a folder), DOCSYNC_SYNC_INTERVAL=0; GET /sync/status once first (capability probe, untimed).',
      `Per run: ${int(options.files)} new files of ${int(FILE_BYTES)} B uploaded (POST /api/v1/files, untimed), then POST /api/v1/sync {}: the folder remote`,
      `gets ${int(options.files)} blobs, one syncProgress event each, plus the phase events and syncComplete. The same clients stay connected for all runs.`,
      `Clients: ${int(options.clients)} raw TCP sockets, each sending GET /api/v1/sse/subscribe by hand, all with the X-Session-Id of the`,
      'one session that then sends POST /sync: one session, N tabs, so every tab gets every progress event (progress goes only to the',
      'session that started the sync). No HTTP parser nor the eventsource package: the stream is scanned as text (frames split on a blank',
      'line, `id:` and `event:` read), the cheapest client this process can be. Baseline: once, before connecting, the same sync with no client.',
      'The server does not stamp events, so latency is measured where they arrive, on one clock (this process):',
      '  fan-out lag of event k at client c = arrival at c − the earliest arrival of k at any client (performance.now() when the chunk',
      '  holding the frame arrived); spread = the largest lag of one event. End to end: from sending POST /sync to the last client',
      '  receiving syncComplete. All clients live in this one process, on the same cores as the server and the other jobs of this',
      '  machine: the lag includes this process reading the sockets one after another, and any time either process waits for a core.',
      'Checked per run: every client received the same ids, in increasing order, more events than files (one per file + phases + syncComplete).',
      'Server CPU from /proc/<pid>/stat (utime+stime).',
      'Floor (after the server stopped): docsync\'s SseHub (src/sse/sse-hub.ts) alone on a bare node:http server in a child process',
      `(bench/sse-hub-floor.ts, npm start's node flags), the same N raw clients in this process, ${FLOOR_EVENTS} events ${FLOOR_INTERVAL_MS} ms apart (an idle server, no backlog),`,
      'lag measured the same way: what this machine and this client allow whatever docsync does around the hub. One publish = from',
      'publish() to the flush of the corked responses in the nextTick after it (where the N socket writes happen), in that process.',
      'RSS from /proc/<pid>/status. MB = 10^6 B.',
    ],
  };
}

/** POST /api/v1/sync from the clients' session; checks that it uploaded `files` files. */
async function postSync(srv: ServerProcess, files: number): Promise<SyncSummary> {
  const res = await fetch(`${srv.baseUrl}/api/v1/sync`, {
    method: 'POST',
    headers: { ...srv.auth, 'content-type': 'application/json' },
    body: '{}',
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /api/v1/sync answered ${res.status}: ${text}`);
  const summary = JSON.parse(text) as SyncSummary;
  if (summary.uploaded !== files || summary.errors !== 0) throw new Error(`unexpected sync summary: ${text}`);
  return summary;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** user + system CPU seconds of a process so far, from /proc/<pid>/stat. */
function serverCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** `count` files of FILE_BYTES distinct bytes each, uploaded one after another through the API. */
async function uploadFiles(srv: ServerProcess, count: number, run: number): Promise<void> {
  const boundary = 'docsync-bench-sse-boundary';
  for (let i = 0; i < count; i++) {
    const key = createHash('sha256').update(`docsync-bench:sse:${run}:${i}`).digest();
    const content = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32)).update(Buffer.alloc(FILE_BYTES));
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="note-${run}-${String(i).padStart(4, '0')}.txt"\r\n` +
          'Content-Type: text/plain\r\n\r\n',
      ),
      content,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await fetch(`${srv.baseUrl}/api/v1/files`, {
      method: 'POST',
      headers: { ...srv.auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${text}`);
  }
}

/**
 * Opens one stream on a raw TCP socket (the request written by hand, the response scanned as text,
 * no HTTP parser: the client side costs as little as it can); resolves once `connected` arrived.
 * Each SSE frame is one `res.write` on the server, so one HTTP chunk: the chunk-size lines sit
 * between frames, and a frame's `id:` and `event:` lines are read as they are.
 */
function openClient(target: StreamTarget, onComplete: () => void): Promise<Client> {
  const { hostname, port, headers } = target;
  return new Promise<Client>((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const client: Client = { ids: [], times: [], completeAt: undefined, socket };
    let headerDone = false;
    let pending = '';
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.write(`GET ${target.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${headers}Accept: text/event-stream\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => {
      const now = performance.now();
      pending += chunk.toString('latin1');
      if (!headerDone) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!pending.startsWith('HTTP/1.1 200')) {
          reject(new Error(`subscribe answered ${pending.slice(0, pending.indexOf('\r\n'))}`));
          socket.destroy();
          return;
        }
        headerDone = true;
        pending = pending.slice(end + 4);
      }
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
        const frame = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const idAt = frame.startsWith('id: ') ? 0 : frame.indexOf('\nid: ') + 1;
        if (idAt <= 0 && !frame.startsWith('id: ')) continue; // retry:, keep-alive comments, events without id
        const idEnd = frame.indexOf('\n', idAt);
        const eventAt = frame.indexOf('event: ', idEnd);
        const event = eventAt < 0 ? 'message' : frame.slice(eventAt + 7, frame.indexOf('\n', eventAt));
        if (event === 'connected') {
          resolve(client);
          continue;
        }
        client.ids.push(Number(frame.slice(idAt + 4, idEnd)));
        client.times.push(now);
        if (event === 'syncComplete') {
          client.completeAt = now;
          onComplete();
        }
      }
    });
  });
}

interface Delivery {
  samples: number;
  events: number;
  complete: number;
  p50: number;
  p99: number;
  max: number;
  spreadP50: number;
  spreadP99: number;
  spreadMax: number;
}

function analyse(clients: Client[]): Delivery {
  const reference = clients[0]!.ids;
  const increasing = reference.every((id, i) => i === 0 || id > reference[i - 1]!);
  const complete = clients.filter((c) => increasing && c.ids.length === reference.length && c.ids.every((id, i) => id === reference[i])).length;
  const byId = new Map<number, number[]>();
  for (const client of clients) {
    client.ids.forEach((id, i) => {
      let times = byId.get(id);
      if (!times) byId.set(id, (times = []));
      times.push(client.times[i]!);
    });
  }
  const lags: number[] = [];
  const spreads: number[] = [];
  for (const times of byId.values()) {
    const first = Math.min(...times);
    let last = first;
    for (const t of times) {
      lags.push(t - first);
      last = Math.max(last, t);
    }
    spreads.push(last - first);
  }
  lags.sort((a, b) => a - b);
  spreads.sort((a, b) => a - b);
  return {
    samples: lags.length,
    events: reference.length,
    complete,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: lags.at(-1)!,
    spreadP50: percentile(spreads, 50),
    spreadP99: percentile(spreads, 99),
    spreadMax: spreads.at(-1)!,
  };
}

interface Floor {
  delivery: Delivery;
  /** One publish to every client, in the hub's process (median ms). */
  wallMs: number;
  cpuMs: number;
}

/** The hub alone in a child process (bench/sse-hub-floor.ts), `clients` raw clients here, events 100 ms apart. */
async function measureFloor(clients: number): Promise<Floor> {
  const child = spawn(process.execPath, ['--max-semi-space-size=2', '--import', 'tsx', FLOOR_SCRIPT], {
    cwd: path.dirname(path.dirname(FLOOR_SCRIPT)),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const forget = onCleanup(() => child.kill('SIGKILL'));
  const sockets: Client[] = [];
  try {
    const lines: string[] = [];
    let waiting: (() => void) | undefined;
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
      waiting?.();
    });
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the floor hub exited with ${code}`))));
    exited.catch(() => undefined); // Killed at the end: only a race that is still waiting cares.
    const nextLine = async (): Promise<string> => {
      while (lines.length === 0) await Promise.race([new Promise<void>((resolve) => (waiting = resolve)), exited]);
      return lines.shift()!;
    };
    const port = Number(await nextLine());
    let completed = 0;
    let allComplete: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allComplete = resolve));
    sockets.push(
      ...(await openClients({ hostname: '127.0.0.1', port, path: '/subscribe', headers: '' }, clients, () => {
        if (++completed === clients) allComplete();
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.stdin!.write(`go ${FLOOR_EVENTS} ${FLOOR_INTERVAL_MS}\n`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      exited,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`floor: only ${completed} of ${clients} clients completed`)), COMPLETE_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    const cost = JSON.parse(await nextLine()) as { wallMs: number; cpuMs: number };
    return { delivery: analyse(sockets), ...cost };
  } finally {
    for (const client of sockets) client.socket.destroy();
    forget();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const ms = (n: number): string => (n < 10 ? fixed(n, 2) : n < 100 ? fixed(n, 1) : fixed(n, 0));
