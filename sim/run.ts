import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Violation } from './invariants.ts';
import { shrink } from './shrink.ts';
import { Stats } from './stats.ts';
import { FAULT_KINDS, formatStep, generateSteps, type FaultKind, type Step } from './steps.ts';
import { openWorldDirs, SIM_SERVERS, World, type RunResult, type SimServer, type WorldOptions } from './world.ts';

export interface SimOptions {
  instances: number;
  steps: number;
  faults: readonly FaultKind[];
  lockTtlSeconds?: number;
  lockWaitSeconds?: number;
  tmpRoot?: string;
  trace?: (line: string) => void;
  traceCalls?: boolean;
  /** Invariants only counted, not failed (see `WorldOptions.tolerate`). */
  tolerate?: readonly string[];
  workarounds?: readonly string[];
  /** Whether parked syncs may be frozen processes whose lock expires (default true). */
  frozenStalls?: boolean;
  /** Whether creates may share content with another file (default true). */
  dupContent?: boolean;
  extraCheck?: WorldOptions['extraCheck'];
  server?: WorldOptions['server'];
  /** Start from a format-1 remote (`runSeed`: one seed in four, `seed % 4 === 3`; `runSteps`: no). */
  startFormat1?: boolean;
}

export const DEFAULT_OPTIONS: SimOptions = { instances: 3, steps: 200, faults: FAULT_KINDS };

/**
 * What the CI run leaves out, so that it passes while a bug it found is open; each open bug is
 * reproduced by an `it.fails` test in test/sim/known-bugs.test.ts. When one is fixed, its test starts
 * failing: make it a regression test and remove the matching line here, so the CI run covers that
 * ground again. Nothing today: bugs 1-10 are fixed (3 and 7 in this form: frozen stalls are back in).
 */
export const KNOWN_BUG_AVOIDANCE = {
  faults: FAULT_KINDS,
} satisfies Partial<SimOptions> & { faults: readonly FaultKind[] };

/** Runs one list of steps in a fresh world and tears it down. */
export async function runSteps(seed: number, steps: readonly Step[], options: SimOptions): Promise<RunResult> {
  const worldOptions: WorldOptions = {
    seed,
    instances: options.instances,
    ...(options.lockTtlSeconds !== undefined && { lockTtlSeconds: options.lockTtlSeconds }),
    ...(options.lockWaitSeconds !== undefined && { lockWaitSeconds: options.lockWaitSeconds }),
    ...(options.tmpRoot !== undefined && { tmpRoot: options.tmpRoot }),
    ...(options.tolerate && { tolerate: options.tolerate }),
    ...(options.workarounds && { workarounds: options.workarounds }),
    ...(options.extraCheck && { extraCheck: options.extraCheck }),
    ...(options.server && { server: options.server }),
    ...(options.startFormat1 && { startFormat1: true }),
    ...(options.trace && { trace: options.trace, traceCalls: options.traceCalls ?? false }),
  };
  const world = new World(worldOptions);
  try {
    return await world.run(steps);
  } finally {
    await world.close();
  }
}

export function stepsFor(seed: number, options: SimOptions): Step[] {
  return generateSteps(seed, options.steps, {
    instances: options.instances,
    faults: options.faults,
    frozenStalls: options.frozenStalls ?? true,
    dupContent: options.dupContent ?? true,
  });
}

/** Runs seed `seed`: its generated steps, then the checks. */
export function runSeed(seed: number, options: SimOptions): Promise<RunResult> {
  return runSteps(seed, stepsFor(seed, options), seedOptions(seed, options));
}

/** The options of a generated seed: one in four starts from a format-1 remote (kept by its shrinking and replay file). */
export function seedOptions(seed: number, options: SimOptions): SimOptions {
  return { startFormat1: seed % 4 === 3, ...options };
}

/** The first violation's invariant: what a shrunk list must still break. */
export function signature(violations: readonly Violation[]): string {
  return violations[0]?.invariant ?? 'none';
}

export interface Minimized {
  steps: Step[];
  result: RunResult;
  tries: number;
  complete: boolean;
}

/** Shrinks a failing step list to a short one that breaks the same invariant. */
export async function minimize(
  seed: number,
  steps: readonly Step[],
  failed: RunResult,
  options: SimOptions,
  budgetMs: number,
  log: (line: string) => void = () => undefined,
): Promise<Minimized> {
  const wanted = signature(failed.violations);
  // Steps after the one where the run stopped never ran.
  let start = [...steps.slice(0, failed.stoppedAt + 1)];
  if (start.length < steps.length) {
    const check = await runSteps(seed, start, options);
    if (signature(check.violations) !== wanted) start = [...steps];
  }
  const shrunk = await shrink(start, async (candidate) => signature((await runSteps(seed, candidate, options)).violations) === wanted, {
    deadline: Date.now() + budgetMs,
    noops: failed.noopSteps.filter((i) => i < start.length),
    onProgress: (size, tries) => log(`  shrinking: ${size} steps (try ${tries})`),
  });
  const result = await runSteps(seed, shrunk.steps, options);
  return { steps: shrunk.steps, result, tries: shrunk.tries, complete: shrunk.complete };
}

export function formatViolations(violations: readonly Violation[], limit = 5): string {
  const shown = violations.slice(0, limit).map((v) => `  [invariant ${v.invariant}] at step ${v.step}: ${v.message}`);
  if (violations.length > limit) shown.push(`  … and ${violations.length - limit} more`);
  return shown.join('\n');
}

// ---- CLI ----------------------------------------------------------------------------------------

interface Failure {
  seed: number;
  violations: Violation[];
  stoppedAt: number;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      long: { type: 'boolean', default: false },
      seeds: { type: 'string' },
      steps: { type: 'string', default: '200' },
      instances: { type: 'string', default: '3' },
      minutes: { type: 'string' },
      jobs: { type: 'string' },
      worker: { type: 'string' },
      deadline: { type: 'string' },
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
      'no-faults': { type: 'boolean', default: false },
      'lock-ttl': { type: 'string' },
      'lock-wait': { type: 'string' },
      shrink: { type: 'string', default: 'first' },
      'shrink-seconds': { type: 'string', default: '180' },
      replay: { type: 'string' },
      out: { type: 'string' },
      'stop-on-failure': { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      'trace-calls': { type: 'boolean', default: false },
      tolerate: { type: 'string' },
      workaround: { type: 'string' },
      'no-frozen-stalls': { type: 'boolean', default: false },
      'no-dup-content': { type: 'boolean', default: false },
      server: { type: 'string' },
      'avoid-known-bugs': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const faults = values['no-faults'] ? [] : parseFaults(values.faults);
  const options: SimOptions = {
    instances: positiveInt(values.instances, '--instances'),
    steps: positiveInt(values.steps, '--steps'),
    faults,
    ...(values['lock-ttl'] !== undefined && { lockTtlSeconds: positiveInt(values['lock-ttl'], '--lock-ttl') }),
    ...(values['lock-wait'] !== undefined && { lockWaitSeconds: positiveInt(values['lock-wait'], '--lock-wait') }),
    ...(values.tolerate !== undefined && { tolerate: values.tolerate.split(',').map((s) => s.trim()) }),
    ...(values['no-frozen-stalls'] && { frozenStalls: false }),
    ...(values['no-dup-content'] && { dupContent: false }),
    ...(values.server !== undefined && { server: parseServer(values.server) }),
    ...(values.workaround !== undefined && { workarounds: values.workaround.split(',').map((s) => s.trim()) }),
  };
  if (values['avoid-known-bugs']) Object.assign(options, KNOWN_BUG_AVOIDANCE, { faults: faults.filter((f) => (KNOWN_BUG_AVOIDANCE.faults as readonly FaultKind[]).includes(f)) });
  const outDir = values.out ?? path.join(os.tmpdir(), 'docsync-sim-failures');
  const shrinkMode = values.shrink;
  if (!['first', 'all', 'none'].includes(shrinkMode)) throw new Error(`--shrink must be first, all or none, got '${shrinkMode}'`);
  const shrinkMs = positiveInt(values['shrink-seconds'], '--shrink-seconds') * 1000;

  if (values.replay) {
    const traced: SimOptions = values.trace || values['trace-calls'] ? { ...options, trace: (l) => console.log(l), traceCalls: values['trace-calls'] } : options;
    return replay(values.replay, traced);
  }

  // --long: run for --minutes (default 10) from a fresh random seed, on every core (at most 4).
  const seedArg = values.seed ?? (values.long ? 'random' : '1');
  const firstSeed = seedArg === 'random' ? Math.floor(Math.random() * 1e9) : Number.parseInt(seedArg, 10);
  if (!Number.isSafeInteger(firstSeed) || firstSeed < 0) throw new Error(`--seed must be a whole number >= 0 or 'random', got '${seedArg}'`);
  const minutes = values.minutes ?? (values.long ? '10' : undefined);
  if (minutes !== undefined && !(Number(minutes) > 0)) throw new Error(`--minutes must be a positive number, got '${minutes}'`);
  const seedCount = values.seeds !== undefined ? positiveInt(values.seeds, '--seeds') : minutes !== undefined ? Number.POSITIVE_INFINITY : 1;
  const deadline =
    values.deadline !== undefined ? Number(values.deadline) : minutes !== undefined ? Date.now() + Number(minutes) * 60_000 : Number.POSITIVE_INFINITY;
  const jobs = positiveInt(values.jobs ?? (values.long ? String(Math.min(4, os.availableParallelism())) : '1'), '--jobs');

  if (values.worker !== undefined) {
    // One of `jobs` worker processes: seeds firstSeed + worker, + jobs, …; one JSON line per seed.
    const index = Number(values.worker);
    for (let i = index; i < seedCount && Date.now() < deadline; i += jobs) {
      const result = await runSeed(firstSeed + i, options);
      process.stdout.write(`RESULT ${JSON.stringify({ seed: firstSeed + i, ...result })}\n`);
    }
    return 0;
  }

  const single = seedCount === 1;
  const totals = new Stats();
  const failures: Failure[] = [];
  const shrunkSignatures = new Set<string>();
  const started = Date.now();
  let ran = 0;
  console.log(
    `docsync simulation: ${single ? `seed ${firstSeed}` : `seeds from ${firstSeed}${Number.isFinite(seedCount) ? ` (${seedCount})` : ''}`}, ` +
      `${options.steps} steps, ${options.instances} instances, faults: ${options.faults.join(',') || 'none'}` +
      `${options.frozenStalls === false ? ', no frozen stalls' : ''}${options.tolerate ? `, tolerating invariant(s) ${options.tolerate.join(',')}` : ''}` +
      `${options.workarounds ? `, workarounds: ${options.workarounds.join(',')}` : ''}` +
      `${options.server && options.server !== 'atomic' ? `, ${options.server} server` : ''}` +
      (Number.isFinite(deadline) ? `, for ${minutes} minute(s)` : '') +
      (jobs > 1 ? `, ${jobs} processes` : ''),
  );
  const onResult = async (seed: number, result: RunResult): Promise<boolean> => {
    ran++;
    totals.add(result.stats);
    if (!result.ok) {
      failures.push({ seed, violations: result.violations, stoppedAt: result.stoppedAt });
      console.log(`seed ${seed}: FAILED at step ${result.stoppedAt}\n${formatViolations(result.violations, 3)}`);
      const sig = `${signature(result.violations)}:${firstWords(result.violations[0]!.message)}`;
      if (shrinkMode === 'all' || (shrinkMode === 'first' && !shrunkSignatures.has(sig))) {
        shrunkSignatures.add(sig);
        await report(seed, stepsFor(seed, options), result, options, shrinkMs, outDir);
      }
      if (values['stop-on-failure']) return false;
    } else if (!single && ran % 50 === 0) {
      console.log(`  ${ran} seeds, ${failures.length} failed, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    if (single) console.log(`\nsummary of seed ${seed}:\n${result.stats.format()}\n  digest: ${result.digest}`);
    return true;
  };
  if (jobs > 1 && !single) {
    const resolved = ['--seed', String(firstSeed), '--jobs', String(jobs), ...(Number.isFinite(deadline) ? ['--deadline', String(deadline)] : [])];
    await runWorkers([...argv, ...resolved], jobs, onResult);
  } else {
    for (let seed = firstSeed; ran < seedCount && Date.now() < deadline; seed++) {
      if (!(await onResult(seed, await runSeed(seed, options)))) break;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  if (!single) console.log(`\ntotals over ${ran} seeds × ${options.steps} steps:\n${totals.format()}`);
  console.log(
    `\nresult: ${failures.length === 0 ? 'PASS' : 'FAIL'} — ${ran} seed(s) × ${options.steps} steps in ${seconds.toFixed(1)} s; ` +
      `${failures.length} failed${failures.length ? `: seeds ${failures.map((f) => `${f.seed} (inv ${signature(f.violations)})`).join(', ')}` : ''}`,
  );
  return failures.length === 0 ? 0 : 1;
}

/** Runs the seeds in `jobs` child processes (this script with `--worker i`); results arrive as they come. */
async function runWorkers(argv: string[], jobs: number, onResult: (seed: number, result: RunResult) => Promise<boolean>): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  let queue = Promise.resolve(true);
  const children = Array.from({ length: jobs }, (_, i) =>
    spawn(process.execPath, [...process.execArgv, script, ...argv, '--worker', String(i)], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          const lines = readline.createInterface({ input: child.stdout! });
          lines.on('line', (line) => {
            if (!line.startsWith('RESULT ')) return;
            const parsed = JSON.parse(line.slice('RESULT '.length)) as RunResult & { seed: number };
            const result: RunResult = { ...parsed, stats: Object.assign(new Stats(), parsed.stats) };
            queue = queue.then(async (go) => {
              if (!go) return false;
              const more = await onResult(parsed.seed, result);
              if (!more) for (const c of children) c.kill();
              return more;
            });
          });
          child.on('error', reject);
          child.on('close', () => void queue.then(() => resolve()));
        }),
    ),
  );
  await queue;
}

/** Prints a failure's shortest step list and saves it for `--replay`. */
async function report(seed: number, steps: Step[], result: RunResult, generated: SimOptions, shrinkMs: number, outDir: string): Promise<void> {
  const options = seedOptions(seed, generated);
  console.log(`  shrinking seed ${seed} (${steps.length} steps, up to ${shrinkMs / 1000} s)…`);
  const min = await minimize(seed, steps, result, options, shrinkMs, () => undefined);
  console.log(
    `  seed ${seed}: shortest step list found: ${min.steps.length} step(s) after ${min.tries} replays${min.complete ? '' : ' (time ran out: maybe not minimal)'}`,
  );
  console.log(min.steps.map((s, i) => `    ${formatStep(s, i)}`).join('\n'));
  console.log(`  it breaks:\n${formatViolations(min.result.violations, 3).replace(/^/gm, '  ')}`);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `seed-${seed}-inv${signature(min.result.violations)}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ seed, options: { ...options, faults: [...options.faults] }, steps: min.steps }, null, 1)}\n`);
  console.log(`  replay: npm run sim -- --replay ${file}`);
}

async function replay(file: string, cliOptions: SimOptions): Promise<number> {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { seed: number; options?: Partial<SimOptions>; steps: Step[] };
  const options = { ...saved.options, ...(cliOptions.tolerate && { tolerate: cliOptions.tolerate }), ...(cliOptions.trace && { trace: cliOptions.trace, traceCalls: cliOptions.traceCalls ?? false }) } as SimOptions;
  console.log(`replaying ${saved.steps.length} step(s) of seed ${saved.seed} from ${file}`);
  console.log(saved.steps.map((s, i) => `  ${formatStep(s, i)}`).join('\n'));
  const result = await runSteps(saved.seed, saved.steps, options);
  console.log(`\nsummary:\n${result.stats.format()}\n  digest: ${result.digest}`);
  console.log(result.ok ? '\nresult: PASS' : `\nresult: FAIL\n${formatViolations(result.violations, 10)}`);
  return result.ok ? 0 : 1;
}

function firstWords(message: string): string {
  return message.replace(/[0-9a-z]{12,}/g, '…').replace(/\d+/g, 'N').slice(0, 60);
}

function parseServer(value: string): SimServer {
  if (!(SIM_SERVERS as readonly string[]).includes(value)) throw new Error(`--server must be one of ${SIM_SERVERS.join(', ')}, got '${value}'`);
  return value as SimServer;
}

function parseFaults(list: string): FaultKind[] {
  const kinds = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown fault '${kind}'; known: ${FAULT_KINDS.join(', ')}`);
  }
  return kinds as FaultKind[];
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got '${value}'`);
  return n;
}

const HELP = `npm run sim -- [options]

  --seed S            first seed (default 1; 'random' for a fresh one)
  --seeds N           how many seeds, S, S+1, … (default 1; with --minutes: until time is up)
  --minutes M         keep running seeds for M minutes
  --long              npm run sim:long: --minutes 10 (unless given), a random first seed, all cores
  --jobs N            run seeds in N processes (default 1)
  --steps N           steps per seed (default 200)
  --instances K       docsync instances (default 3)
  --faults LIST       fault kinds to inject (default all: ${FAULT_KINDS.join(',')})
  --no-faults         no remote faults at all
  --lock-ttl S        lock expiry in seconds (default 600), --lock-wait S (default 900)
  --shrink MODE       first (default: shrink the first failure of each kind), all, none
  --shrink-seconds S  time budget for shrinking one failure (default 180)
  --replay FILE       run a saved step list (written for every shrunk failure)
  --trace             with --replay: print each step's outcome; --trace-calls: every remote call too
  --out DIR           where shrunk failures are saved (default $TMPDIR/docsync-sim-failures)
  --stop-on-failure   stop at the first failing seed
  --tolerate LIST     invariants (1,2,3,4,5,6,error) whose violations are counted, not failed
  --no-frozen-stalls  parked syncs are live processes only (their lock never expires under them)
  --no-dup-content    creates never copy another file's content (no shared blobs)
  --server KIND       atomic (default; Apache): exclusive MKCOL, If-Match honoured; unconditional
                      (nginx): preconditions ignored; nonatomic (rclone): neither. Invariant 4 is only
                      counted on the last two (and 6, see sim/README.md); the others must hold
  --avoid-known-bugs  the configuration of the CI run: steers clear of the bugs reproduced in
                      test/sim/known-bugs.test.ts (see KNOWN_BUG_AVOIDANCE in sim/run.ts)
  --workaround LIST   known-bug workarounds for the end phase: stale-claim (remove leftover takeover claims)`;

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  // An interrupted run (Ctrl-C, a closed pipe) leaves no data dirs behind.
  process.on('exit', () => {
    for (const dir of openWorldDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));
  process.stdout.on('error', () => process.exit(141));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
