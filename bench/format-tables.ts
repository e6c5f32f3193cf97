/**
 * The tables of the `format` section (bench/format.ts): one per size, format 2 and format 1 side by
 * side, and the metadata bytes of K one-file commits. Targets from issue 11, judged on format 2.
 */
import os from 'node:os';
import type { FormatBenchOptions } from './format.ts';
import { fixed, int, sourceLine, type Row, type Table } from './table.ts';

export const CATCH_UP_COMMITS = 20;
export const KB = 1024;
export const kb = (bytes: number): string => fixed(bytes / KB, bytes < 10 * KB ? 1 : 0);
export const mb = (bytes: number): string => fixed(bytes / 1e6, bytes < 10e6 ? 1 : 0);
const secs = (s: number): string => fixed(s, s < 10 ? 3 : 1);

export const TARGETS = {
  smallChangeBytes: (files: number): number => (files <= 10_000 ? 64 * KB : 100 * KB),
  flatFactor: 1.5,
  changeSecondsAt1M: 1,
  firstPullSecondsAt1M: 30,
  firstPullRssAt1M: 300 * 1e6,
  metadataShare: 0.05,
};

export interface Build {
  label: string;
  repo: string;
}

/** What the proxy saw during one step, reduced. */
export interface Wire {
  up: number;
  down: number;
  requests: number;
  metadataUp: number;
  metadataDown: number;
  detail: string;
  byTop: Map<string, { up: number; down: number }>;
}

export interface Step {
  /** How many syncs this step sums (the first push of a large store is made in batches). */
  pushes?: number;
  seconds: number;
  wire: Wire;
  /** Peak RSS of the instance's process after the step (bytes). */
  maxRss?: number;
  /** Milliseconds per sync phase (progress events), summed over the syncs of the step. */
  phases?: Record<string, number>;
}

export interface BuildResult {
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

/** `metadata 1200 · planning 3400 · applying 25000` (ms, phases of at least 1 ms, in the order they ran). */
export function phaseList(step: Step | undefined): string {
  if (!step?.phases) return '—';
  return Object.entries(step.phases)
    .filter(([, ms]) => ms >= 1)
    .map(([phase, ms]) => `${phase} ${fixed(ms, 0)}`)
    .join(' · ');
}

/** `journal 3800 / 0, version.txt 2.1 / 3.4, …` (KB), largest first. */
export function tops(wire: Wire): string {
  return [...wire.byTop]
    .sort((x, y) => y[1].up + y[1].down - x[1].up - x[1].down)
    .map(([top, b]) => `${top} ${kb(b.up)} / ${kb(b.down)}`)
    .join(', ');
}


export function sizeTable(
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
  for (const [i] of buildList.entries()) {
    const short = i === 0 ? 'f2' : 'f1';
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

export function commitsTable(buildList: Build[], all: Map<number, (BuildResult | undefined)[]>, options: FormatBenchOptions): Table {
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
