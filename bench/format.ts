/**
 * `format` section (issue 11): the remote metadata format 2 (snapshot + per-commit deltas) against
 * format 1 (one whole snapshot per commit), measured the same way, side by side, in one run.
 *
 * Each build (this checkout; the reference checkout given by `--format-reference`, a format-1 build)
 * runs as two child processes (bench/format-child.ts, which loads the build's own src/): instance A
 * and instance B, so that each build runs its own code and peak RSS is per instance. Both talk to
 * loopback Apache through the counting proxy of bench/remote-meter.ts, which sees every request and
 * its body bytes, by path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { onCleanup, tempDir } from './cleanup.ts';
import type { ChildCommand, SyncAnswer } from './format-child.ts';
import { startCountingProxy, type CountingProxy, type ProxyReading } from './remote-meter.ts';
import { fixed, int, sourceLine, type Row, type Table } from './table.ts';

export interface FormatBenchOptions {
  /** File counts (default 3,000, 100K, 1M). */
  sizes: number[];
  /** A format-1 checkout to compare with; undefined: format 2 alone. */
  reference: string | undefined;
  /** The reference runs only at sizes up to this (its first pull at 1M took 221 s and 2.5 GB). */
  referenceMaxFiles: number;
  /** One-file commits of the metadata-bytes comparison, each followed by B's pull. */
  commits: number;
  /** The file count at which those commits run (skipped when it is not among `sizes`). */
  commitsAt: number;
  /**
   * A's first push is made in pushes of at most this many rows: a format-2 journal is one JSON string,
   * ~450 B per row, built whole by the writer and parsed whole by every reader; V8 strings stop at
   * 512 MB (~1.2M rows), and long before that the journal costs GBs of heap on both sides.
   */
  pushBatch: number;
}

type Log = (line: string) => void;

const THIS_CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD_SCRIPT = path.join(THIS_CHECKOUT, 'bench', 'format-child.ts');
const CATCH_UP_COMMITS = 20;
const CONTENT_BYTES = 1024;
/** Paths whose bytes are metadata: version.txt, snapshots and deltas (format 2), snapshots (format 1). */
const METADATA_TOPS = ['version.txt', 'journal', 'snapshots', 'metadata'];

const KB = 1024;
const TARGETS = {
  smallChangeBytes: (files: number): number => (files <= 10_000 ? 64 * KB : 100 * KB),
  flatFactor: 1.5,
  changeSecondsAt1M: 1,
  firstPullSecondsAt1M: 30,
  firstPullRssAt1M: 300 * 1e6,
  metadataShare: 0.05,
};

interface Build {
  label: string;
  repo: string;
}

/** What the proxy saw during one step, reduced. */
interface Wire {
  up: number;
  down: number;
  requests: number;
  metadataUp: number;
  metadataDown: number;
  detail: string;
  byTop: Map<string, { up: number; down: number }>;
}

interface Step {
  /** How many syncs this step sums (the first push of a large store is made in batches). */
  pushes?: number;
  seconds: number;
  wire: Wire;
  /** Peak RSS of the instance's process after the step (bytes). */
  maxRss?: number;
  /** Milliseconds per sync phase (progress events), summed over the syncs of the step. */
  phases?: Record<string, number>;
}

interface BuildResult {
  files: number;
  firstPush: Step;
  firstPull: Step;
  /** B's process before its first sync (node + tsx + the build's modules). */
  baseRss: number;
  labelPush: Step;
  labelPull: Step;
  contentPush: Step;
  contentPull: Step;
  noChange: Step;
  catchUpPushes: Step;
  catchUp: Step;
  commits?: {
    count: number;
    metadataUp: number;
    metadataDown: number;
    seconds: number;
    compactions: number;
    /** The most bytes (both ways, everything) one of these syncs moved. */
    maxSync: number;
    /** Of the metadata bytes down: version.txt reads. */
    versionTxtDown: number;
  };
}

export async function benchFormat(options: FormatBenchOptions, log: Log): Promise<Table[]> {
  const builds: Build[] = [{ label: 'format 2 (this checkout)', repo: THIS_CHECKOUT }];
  if (options.reference) {
    const reference = path.resolve(options.reference);
    if (!fs.existsSync(path.join(reference, 'src', 'docsync.ts'))) throw new Error(`--format-reference ${reference} is not a docsync checkout`);
    builds.push({ label: `format 1 (${path.basename(reference)})`, repo: reference });
  } else {
    log('format: NO REFERENCE CHECKOUT (--format-reference <format-1 checkout>): format 2 measured alone, nothing to compare with');
  }
  const tmp = tempDir('format');
  let server: WebDavTestServer | undefined;
  try {
    log('format: starting Apache…');
    server = await startWebDavServer('apache');
    const results = new Map<number, (BuildResult | undefined)[]>();
    const failures = new Map<number, string[]>();
    for (const files of options.sizes) {
      const row: (BuildResult | undefined)[] = [];
      for (const [i, build] of builds.entries()) {
        if (i > 0 && files > options.referenceMaxFiles) {
          log(`format: ${build.label} skipped at ${int(files)} files (--format-reference-max-files ${int(options.referenceMaxFiles)})`);
          row.push(undefined);
          continue;
        }
        const commits = files === options.commitsAt ? options.commits : 0;
        try {
          row.push(await measureBuild(server, tmp.dir, build, files, commits, options.pushBatch, log));
        } catch (error) {
          // One build failing at one size (out of memory, a refused sync) must not lose the other tables.
          const message = `${build.label} at ${int(files)} files FAILED: ${(error as Error).message.slice(0, 600)}`;
          log(`format: ${message}`);
          failures.set(files, [...(failures.get(files) ?? []), message]);
          row.push(undefined);
        }
      }
      results.set(files, row);
    }
    return [
      ...options.sizes.map((files) => sizeTable(files, builds, results.get(files)!, results, options, failures.get(files) ?? [])),
      commitsTable(builds, results, options),
    ];
  } finally {
    await server?.stop();
    tmp.remove();
  }
}

// ---- one build at one size ----

async function measureBuild(
  server: WebDavTestServer,
  tmp: string,
  build: Build,
  files: number,
  commits: number,
  pushBatch: number,
  log: Log,
): Promise<BuildResult> {
  const slug = `${builds(build)}-${files}`;
  const remoteRoot = `/format-${slug}`;
  const proxy = await startCountingProxy(server.baseUrl, remoteRoot);
  const a = await Child.start(build, path.join(tmp, `a-${slug}`), server, proxy, remoteRoot);
  const b = await Child.start(build, path.join(tmp, `b-${slug}`), server, proxy, remoteRoot);
  const say = (line: string): void => log(`format: ${build.label}, ${int(files)} files: ${line}`);
  try {
    const step = async (child: Child, check: (s: SyncAnswer['summary']) => boolean, what: string): Promise<Step> => {
      proxy.take();
      const answer = (await child.ask({ op: 'sync' })) as SyncAnswer;
      const wire = wireOf(proxy.take());
      if (!check(answer.summary)) throw new Error(`${build.label}, ${what}: unexpected summary ${JSON.stringify(answer.summary)}`);
      return { seconds: answer.seconds, wire, maxRss: answer.maxRss, phases: answer.phases };
    };
    const pushed = (s: SyncAnswer['summary']): boolean => s.errors === 0 && !s.skipped;
    let ids: string[] = [];
    const pushes0: Step[] = [];
    for (let from = 0; from < files; from += pushBatch) {
      const to = Math.min(files, from + pushBatch);
      const seeded = (await a.ask({ op: 'seed', files, from, to, keep: 2 + CATCH_UP_COMMITS + 8 })) as { ids: string[]; seconds: number };
      if (from === 0) ids = seeded.ids;
      say(`rows ${int(from)}…${int(to - 1)} inserted on A in ${fixed(seeded.seconds, 1)} s; push…`);
      pushes0.push(await step(a, (s) => pushed(s) && (from > 0 || s.uploaded >= 1), 'first push'));
      say(`pushed in ${fixed(pushes0.at(-1)!.seconds, 2)} s, ${kb(pushes0.at(-1)!.wire.up)} KB up, peak RSS ${mb(pushes0.at(-1)!.maxRss!)} MB`);
    }
    const firstPush = { ...sumSteps(pushes0), maxRss: pushes0.at(-1)!.maxRss, pushes: pushes0.length };
    if (pushes0.length === 1) firstPush.wire = pushes0[0]!.wire;
    say(`first push ${fixed(firstPush.seconds, 2)} s, ${kb(firstPush.wire.up)} KB up; first pull…`);
    const baseRss = ((await b.ask({ op: 'rss' })) as { maxRss: number }).maxRss;
    const firstPull = await step(b, (s) => pushed(s) && s.downloaded >= 1, 'first pull');
    say(`first pull ${fixed(firstPull.seconds, 2)} s, peak RSS ${mb(firstPull.maxRss!)} MB`);
    await expectRow(b, ids[0]!, (row) => row.sync_status === 'synced', 'first pull');

    await a.ask({ op: 'label', id: ids[0]!, label: 'bench-label' });
    const labelPush = await step(a, pushed, 'label push');
    const labelPull = await step(b, pushed, 'label pull');
    await expectRow(b, ids[0]!, (row) => row.labels.includes('bench-label') && row.sync_status === 'synced', 'label pull');

    const { hash } = (await a.ask({ op: 'content', id: ids[1]!, bytes: CONTENT_BYTES, seed: `content-${slug}` })) as { hash: string };
    const contentPush = await step(a, (s) => pushed(s) && s.uploaded === 1, 'content push');
    const contentPull = await step(b, (s) => pushed(s) && s.downloaded === 1, 'content pull');
    await expectRow(b, ids[1]!, (row) => row.hash === hash && row.sync_status === 'synced', 'content pull');

    const noChange = await step(b, (s) => s.skipped === true, 'no-change sync');
    say(`one-file changes done (label push ${fixed(labelPush.seconds, 2)} s / pull ${fixed(labelPull.seconds, 2)} s); ${CATCH_UP_COMMITS} commits on A…`);

    const pushes: Step[] = [];
    for (let i = 0; i < CATCH_UP_COMMITS; i++) {
      await a.ask({ op: 'label', id: ids[2 + i]!, label: `catch-up-${i}` });
      pushes.push(await step(a, pushed, `catch-up commit ${i + 1}`));
    }
    const catchUp = await step(b, pushed, 'catch-up pull');
    await expectRow(b, ids[1 + CATCH_UP_COMMITS]!, (row) => row.labels.includes(`catch-up-${CATCH_UP_COMMITS - 1}`), 'catch-up pull');
    say(`B caught up ${CATCH_UP_COMMITS} commits: ${kb(catchUp.wire.down)} KB down`);

    const result: BuildResult = {
      files,
      firstPush,
      firstPull,
      baseRss,
      labelPush,
      labelPull,
      contentPush,
      contentPull,
      noChange,
      catchUpPushes: sumSteps(pushes),
      catchUp,
    };
    if (commits > 0) result.commits = await measureCommits(a, b, proxy, ids.slice(2 + CATCH_UP_COMMITS), commits, say);
    return result;
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
    await proxy.close();
    fs.rmSync(path.join(server.rootDir, remoteRoot), { recursive: true, force: true });
    fs.rmSync(path.join(tmp, `a-${slug}`), { recursive: true, force: true });
    fs.rmSync(path.join(tmp, `b-${slug}`), { recursive: true, force: true });
  }
}

/** K one-file commits on A, each followed by B's pull: the metadata bytes both ways, summed. */
async function measureCommits(a: Child, b: Child, proxy: CountingProxy, ids: string[], count: number, say: Log): Promise<BuildResult['commits']> {
  let metadataUp = 0;
  let metadataDown = 0;
  let seconds = 0;
  let compactions = 0;
  let maxSync = 0;
  let versionTxtDown = 0;
  for (let i = 0; i < count; i++) {
    await a.ask({ op: 'label', id: ids[i % ids.length]!, label: `commit-${i}` });
    for (const child of [a, b]) {
      proxy.take();
      const answer = (await child.ask({ op: 'sync' })) as SyncAnswer;
      const reading = proxy.take();
      if (answer.summary.errors !== 0 || answer.summary.skipped) throw new Error(`commit ${i + 1}: unexpected summary ${JSON.stringify(answer.summary)}`);
      const wire = wireOf(reading);
      metadataUp += wire.metadataUp;
      metadataDown += wire.metadataDown;
      seconds += answer.seconds;
      if (child === a && reading.up.snapshot > 0) compactions++;
      maxSync = Math.max(maxSync, wire.up + wire.down);
      versionTxtDown += reading.byTop.get('version.txt')?.down ?? 0;
    }
    if ((i + 1) % Math.max(1, Math.floor(count / 5)) === 0) say(`${i + 1}/${count} commits, metadata ${mb(metadataUp)} MB up / ${mb(metadataDown)} MB down`);
  }
  return { count, metadataUp, metadataDown, seconds, compactions, maxSync, versionTxtDown };
}

async function expectRow(child: Child, id: string, ok: (row: { hash: string; labels: string[]; sync_status: string }) => boolean, what: string): Promise<void> {
  const row = (await child.ask({ op: 'get', id })) as { hash: string; labels: string[]; sync_status: string } | undefined;
  if (!row || !ok(row)) throw new Error(`${what}: instance B has ${id} as ${JSON.stringify(row)}`);
}

function wireOf(reading: ProxyReading): Wire {
  let up = 0;
  let down = 0;
  let metadataUp = 0;
  let metadataDown = 0;
  for (const [top, bytes] of reading.byTop) {
    up += bytes.up;
    down += bytes.down;
    if (METADATA_TOPS.includes(top)) {
      metadataUp += bytes.up;
      metadataDown += bytes.down;
    }
  }
  const detail = [...reading.byKey].sort((x, y) => y[1] - x[1]).map(([key, n]) => `${key} ×${n}`).join(', ');
  return { up, down, requests: reading.total, metadataUp, metadataDown, detail, byTop: reading.byTop };
}

function sumSteps(steps: Step[]): Step {
  const sum = (pick: (w: Wire) => number): number => steps.reduce((s, x) => s + pick(x.wire), 0);
  const phases: Record<string, number> = {};
  for (const step of steps) for (const [phase, ms] of Object.entries(step.phases ?? {})) phases[phase] = (phases[phase] ?? 0) + ms;
  const byTop = new Map<string, { up: number; down: number }>();
  for (const step of steps) {
    for (const [top, bytes] of step.wire.byTop) {
      const sum = byTop.get(top) ?? { up: 0, down: 0 };
      byTop.set(top, { up: sum.up + bytes.up, down: sum.down + bytes.down });
    }
  }
  return {
    seconds: steps.reduce((s, x) => s + x.seconds, 0),
    phases,
    wire: {
      up: sum((w) => w.up),
      down: sum((w) => w.down),
      requests: sum((w) => w.requests),
      metadataUp: sum((w) => w.metadataUp),
      metadataDown: sum((w) => w.metadataDown),
      detail: '',
      byTop,
    },
  };
}

/** `metadata 1200 · planning 3400 · applying 25000` (ms, phases of at least 1 ms, in the order they ran). */
function phaseList(step: Step | undefined): string {
  if (!step?.phases) return '—';
  return Object.entries(step.phases)
    .filter(([, ms]) => ms >= 1)
    .map(([phase, ms]) => `${phase} ${fixed(ms, 0)}`)
    .join(' · ');
}

/** `journal 3800 / 0, version.txt 2.1 / 3.4, …` (KB), largest first. */
function tops(wire: Wire): string {
  return [...wire.byTop]
    .sort((x, y) => y[1].up + y[1].down - x[1].up - x[1].down)
    .map(([top, b]) => `${top} ${kb(b.up)} / ${kb(b.down)}`)
    .join(', ');
}

const builds = (build: Build): string => (build.repo === THIS_CHECKOUT ? 'f2' : 'ref');

// ---- child processes ----

class Child {
  private readonly waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  private exited: Error | undefined;
  private readonly removeCleanup: () => void;

  private constructor(
    private readonly process: ChildProcess,
    private readonly name: string,
  ) {
    this.removeCleanup = onCleanup(() => this.process.kill('SIGKILL'));
    const lines = readline.createInterface({ input: process.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('@@')) return;
      const answer = JSON.parse(line.slice(2)) as { ok: true; value: unknown } | { ok: false; error: string };
      const next = this.waiting.shift();
      if (!next) return;
      if (answer.ok) next.resolve(answer.value);
      else next.reject(new Error(`${this.name}: ${answer.error}`));
    });
    let stderr = '';
    process.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    process.once('exit', (code, signal) => {
      this.exited = new Error(`${this.name} exited (${signal ?? code}): ${stderr.trim()}`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    });
  }

  static async start(build: Build, dataDir: string, server: WebDavTestServer, proxy: CountingProxy, remoteRoot: string): Promise<Child> {
    // e.g. BENCH_FORMAT_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the instances.
    const nodeArgs = (process.env.BENCH_FORMAT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const args = [...nodeArgs, '--import', 'tsx', CHILD_SCRIPT, '--repo', build.repo, '--data-dir', dataDir, '--webdav-url', proxy.baseUrl];
    args.push('--webdav-user', server.username, '--webdav-password', server.password, '--remote-root', remoteRoot);
    const child = new Child(spawn(process.execPath, args, { cwd: THIS_CHECKOUT, stdio: ['pipe', 'pipe', 'pipe'] }), `${build.label} ${path.basename(dataDir)}`);
    await child.next();
    return child;
  }

  private next(): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  ask(command: ChildCommand): Promise<unknown> {
    const answer = this.next();
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
    return answer;
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise((resolve) => this.process.once('exit', resolve));
      await this.ask({ op: 'exit' }).catch(() => undefined);
      await gone;
    }
    this.removeCleanup();
  }
}

// ---- tables ----

const kb = (bytes: number): string => fixed(bytes / KB, bytes < 10 * KB ? 1 : 0);
const mb = (bytes: number): string => fixed(bytes / 1e6, bytes < 10e6 ? 1 : 0);
const secs = (s: number): string => fixed(s, s < 10 ? 3 : 1);

function sizeTable(
  files: number,
  buildList: Build[],
  results: (BuildResult | undefined)[],
  all: Map<number, (BuildResult | undefined)[]>,
  options: FormatBenchOptions,
  failures: string[],
): Table {
  const smallest = Math.min(...options.sizes);
  const f2Smallest = all.get(smallest)![0];
  const columns = ['step'];
  for (const build of buildList) {
    const short = build.repo === THIS_CHECKOUT ? 'f2' : 'f1';
    columns.push(`${short} s`, `${short} KB up / down`, `${short} req`, `${short} RSS MB`);
  }
  columns.push('target (format 2)');
  const title = `Format ${buildList.length > 1 ? '2 vs 1' : '2'} — ${int(files)} files on loopback Apache (f2 = ${buildList[0]!.label}${buildList[1] ? `, f1 = ${buildList[1].label}` : ''})`;
  const f2 = results[0];
  if (!f2) {
    return { title, columns, textColumns: [2, 6, columns.length - 1], rows: [{ cells: ['format 2 not measured', ...columns.slice(1).map(() => '—')], ok: false }], notes: failures };
  }
  const limit = TARGETS.smallChangeBytes(files);
  const is1M = files >= 1_000_000;
  type Pick = (r: BuildResult) => Step;
  const line = (label: string, pick: Pick, target: string, ok?: (s: Step, r: BuildResult) => boolean, rss = false): Row => {
    const cells = [label];
    for (const r of results) {
      if (!r) {
        cells.push('—', '—', '—', '—');
        continue;
      }
      const s = pick(r);
      cells.push(secs(s.seconds), `${kb(s.wire.up)} / ${kb(s.wire.down)}`, int(s.wire.requests), rss && s.maxRss ? mb(s.maxRss) : '');
    }
    cells.push(target);
    return { cells, ...(ok && { ok: ok(pick(f2), f2) }) };
  };
  const smallBytes = (s: Step): boolean => s.wire.up + s.wire.down < limit;
  const flat = (pick: Pick) => (s: Step): boolean => {
    if (!f2Smallest) return true;
    const base = pick(f2Smallest);
    return files === smallest || s.wire.up + s.wire.down <= TARGETS.flatFactor * (base.wire.up + base.wire.down);
  };
  const quick = (s: Step): boolean => !is1M || s.seconds < TARGETS.changeSecondsAt1M;
  const change = (pick: Pick) => (s: Step): boolean => smallBytes(s) && flat(pick)(s) && quick(s);
  const changeTarget = `< ${limit / KB} KB${files === smallest ? '' : `, ≤ ${TARGETS.flatFactor}× at ${int(smallest)}`}${is1M ? ', < 1 s' : ''}`;
  const rows: Row[] = [
    line(`first push (A: all rows new, 1 blob)${f2.firstPush.pushes && f2.firstPush.pushes > 1 ? `, ${f2.firstPush.pushes} pushes` : ''}`, (r) => r.firstPush, '—', undefined, true),
    line('first pull (B: new instance)', (r) => r.firstPull, is1M ? '< 30 s, peak RSS < 300 MB' : '—', is1M ? (s) => s.seconds < TARGETS.firstPullSecondsAt1M && s.maxRss! < TARGETS.firstPullRssAt1M : undefined, true),
    line('label on 1 file: push (A)', (r) => r.labelPush, changeTarget, change((r) => r.labelPush)),
    line('label on 1 file: pull (B)', (r) => r.labelPull, changeTarget, change((r) => r.labelPull)),
    line(`1 KB new content, 1 file: push (A)`, (r) => r.contentPush, changeTarget, change((r) => r.contentPush)),
    line('1 KB new content, 1 file: pull (B)', (r) => r.contentPull, changeTarget, change((r) => r.contentPull)),
    line('no-change sync (B)', (r) => r.noChange, '1 request', (s) => s.wire.requests === 1),
    line(`${CATCH_UP_COMMITS} one-file commits on A (sum)`, (r) => r.catchUpPushes, '—'),
    line(`B catches up ${CATCH_UP_COMMITS} commits`, (r) => r.catchUp, 'deltas only', (s, r) => s.wire.down < CATCH_UP_COMMITS * limit && (r.firstPull.wire.down < 64 * KB || s.wire.down < r.firstPull.wire.down / 2)),
  ];
  return {
    title,
    columns,
    textColumns: [2, 6, columns.length - 1],
    rows,
    notes: [
      `Per build, two instances in child processes (bench/format-child.ts loads <checkout>/src): A gets ${int(files)} rows \`modified\`, all pointing`,
      'at ONE 2 KB blob (RowFactory rows, distinct ids and filenames, .pdf), then syncs (first push); B, an empty data dir, syncs (first pull).',
      's = `await sync.sync()` inside the child; KB up / down = HTTP body bytes through a counting proxy in front of Apache (headers not',
      'counted; PROPFIND answers count as down), req = HTTP requests it saw; RSS = the instance process\'s peak RSS (process.resourceUsage().maxRSS)',
      `after the step (B before its first sync: ${results.map((r) => (r ? `${mb(r.baseRss)} MB` : '—')).join(' | ')}). KB = 1024 B, MB = 10^6 B.`,
      `A's first push is made in pushes of at most ${int(options.pushBatch)} rows (--format-push-batch; their sum shown): a format-2 journal is one`,
      'JSON string of ~450 B per row, built and parsed whole; V8 strings stop at 512 MB (~1.2M rows), and heaps grow by GBs well before.',
      'Verified: B holds the label, the new content\'s hash, and the last catch-up label, synced.',
      ...failures,
      `Format 2 bytes by path (KB up / down), first push: ${tops(f2.firstPush.wire)}; label push: ${tops(f2.labelPush.wire)}.`,
      ...(['firstPush', 'firstPull', 'labelPush', 'labelPull'] as const).map(
        (key) => `Phases (ms), ${key}: ${results.map((r, i) => `${i === 0 ? 'f2' : 'f1'} ${phaseList(r?.[key])}`).join(' | ')}.`,
      ),
      `Format 2 requests, label push: ${f2.labelPush.wire.detail}.`,
      `Format 2 requests, label pull: ${f2.labelPull.wire.detail}.`,
      `Format 2 requests, first pull: ${f2.firstPull.wire.detail}.`,
      ...(results[1] ? [`Format 1 requests, label push: ${results[1].labelPush.wire.detail}.`] : []),
      'Targets (issue 11, judged on format 2): one-file push and pull < 64 KB each at 3,000 files, < 100 KB at 100K and 1M, flat',
      `(≤ ${TARGETS.flatFactor}× the smallest size's bytes), < 1 s each at 1M; first pull at 1M < 30 s, peak RSS < 300 MB; no-change = 1 request;`,
      `B's catch-up moves the deltas only (< ${CATCH_UP_COMMITS}× the one-file limit, and under half its first pull).`,
      `${sourceLine()}; ${os.cpus().length} cores, shared machine; 1-min load ${fixed(os.loadavg()[0]!, 2)} at the end.`,
    ],
  };
}

function commitsTable(buildList: Build[], all: Map<number, (BuildResult | undefined)[]>, options: FormatBenchOptions): Table {
  const results = all.get(options.commitsAt);
  const rows: Row[] = [];
  const f2 = results?.[0]?.commits;
  const f1 = results?.[1]?.commits;
  for (const [i, build] of buildList.entries()) {
    const c = results?.[i]?.commits;
    if (!c) continue;
    const ratio = i === 0 && f1 ? (f2!.metadataUp + f2!.metadataDown) / (f1.metadataUp + f1.metadataDown) : undefined;
    rows.push({
      cells: [
        build.label,
        int(c.count),
        mb(c.metadataUp),
        mb(c.metadataDown),
        mb(c.metadataUp + c.metadataDown),
        kb((c.metadataUp + c.metadataDown) / c.count),
        kb(c.versionTxtDown),
        kb(c.maxSync),
        int(c.compactions),
        fixed(c.seconds, 1),
        ratio === undefined ? '—' : `${fixed(ratio * 100, 2)} %`,
        i === 0 ? `≤ ${TARGETS.metadataShare * 100} % of format 1` : '—',
      ],
      ...(ratio !== undefined && { ok: ratio <= TARGETS.metadataShare }),
    });
  }
  return {
    title: `Format ${buildList.length > 1 ? '2 vs 1' : '2'} — ${int(options.commits)} one-file commits at ${int(options.commitsAt)} files, each followed by B's pull: metadata bytes`,
    columns: ['build', 'commits', 'MB up', 'MB down', 'MB total', 'KB / commit', 'version.txt KB down', 'max KB / sync', 'snapshots written', 'sync s (A+B)', 'f2 ÷ f1', 'target'],
    textColumns: [10, 11],
    rows,
    notes: [
      rows.length === 0 ? `Not run: ${int(options.commitsAt)} files is not among --format-sizes.` : 'Same instances as the table at that size, after its steps.',
      'Per commit: a new label on one of A\'s files, A syncs (push), B syncs (pull). Metadata bytes = HTTP bodies of version.txt, snapshots/,',
      'journal/ and metadata/ (format 1\'s snapshots) both ways, through the proxy; blob bytes and the lock excluded.',
      'version.txt KB down = the part of the metadata bytes down that is reads of version.txt (it lists up to 64 deltas, and a sync reads it',
      'several times). max KB / sync = the most bytes, everything both ways, that one of these syncs (push or pull) moved.',
      'snapshots written = A\'s pushes that uploaded a snapshot (format 2 compacts every 64 commits; format 1 writes one on every commit).',
    ],
  };
}
