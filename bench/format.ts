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
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { onCleanup, tempDir } from './cleanup.ts';
import type { ChildCommand, SyncAnswer } from './format-child.ts';
import { startCountingProxy, type CountingProxy, type ProxyReading } from './remote-meter.ts';
import { CATCH_UP_COMMITS, commitsTable, kb, mb, sizeTable, type Build, type BuildResult, type Step, type Wire } from './format-tables.ts';
import { fixed, int, type Table } from './table.ts';

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
const CONTENT_BYTES = 1024;
/** Paths whose bytes are metadata: version.txt, snapshots and deltas (format 2), snapshots (format 1). */
const METADATA_TOPS = ['version.txt', 'journal', 'snapshots', 'metadata'];

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

