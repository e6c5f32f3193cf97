import type { RemoteOperation } from '../src/remote/faults.ts';
import { Prng, subSeed } from './prng.ts';

/** Faults the simulation injects into the shared remote (`MemoryRemote.faults`). */
export const FAULT_KINDS = ['412', '423', '500', '503', 'reset', 'lostWrite', 'lostResponse', 'delay', 'truncate'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which remote paths a fault rule matches. */
export const FAULT_TARGETS = ['any', 'version', 'lock', 'metadata', 'blob'] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];

export const RESOLUTION_CHOICES = ['local_wins', 'remote_wins', 'keep_both'] as const;

/**
 * One step of a run. Steps name their targets by position (`pick` in [0,1) over the candidates
 * that exist when the step runs), never by id, so any sub-list of steps still replays — which is
 * what the shrinker needs. `dt`: milliseconds the shared clock moves before the step (0 happens: two
 * things in the same millisecond are real).
 */
export type Step = { dt: number } & (
  | { kind: 'create'; inst: number; name: number; size: number; bytes: number; dup: number | null }
  | { kind: 'editContent'; inst: number; pick: number; size: number; bytes: number }
  | { kind: 'editMeta'; inst: number; pick: number; variant: number }
  | { kind: 'delete'; inst: number; pick: number }
  /** A whole sync (a parked sync of this instance is resumed instead). */
  | { kind: 'sync'; inst: number; force: boolean }
  /**
   * Starts a sync that stops at its `at`-th event (remote call or checkpoint) until resumed. A
   * `frozen` one is a stopped process (laptop asleep, SIGSTOP): it renews nothing and its lock
   * expires; otherwise it is a live process waiting on a slow call, whose lock stays renewed.
   */
  | { kind: 'syncPark'; inst: number; at: EventRef; frozen: boolean }
  | { kind: 'resume'; pick: number }
  | { kind: 'resolve'; inst: number; pick: number; resolution: (typeof RESOLUTION_CHOICES)[number] }
  /**
   * A restore from the file history: an older version (`version` picks among the versions of a file
   * with two or more, `pick` the file) or, with `trash`, a deleted file back from the trash.
   */
  | { kind: 'restore'; inst: number; pick: number; version: number; trash: boolean }
  /**
   * A sync killed at its `at`-th event, before that call reaches the server or (`after`) once it has
   * but before its answer arrives; then the instance restarts from its data dir. A parked sync of
   * the instance is killed where it stands instead.
   */
  | { kind: 'crash'; inst: number; at: EventRef; after: boolean }
  /** Close and reopen the instance between syncs (a clean restart). */
  | { kind: 'restart'; inst: number }
  /** Moves the shared clock (`pastTtl`: beyond any lock's expiry). */
  | { kind: 'clock'; ms: number; pastTtl: boolean }
  | { kind: 'fault'; fault: FaultKind; op: RemoteOperation | 'all'; target: FaultTarget; times: number; ms: number }
  | { kind: 'clearFaults' }
);

export type StepKind = Step['kind'];

/**
 * An event of a sync: its number (1 = the sync's first remote call or checkpoint), or its name —
 * `checkpoint before_version_switch`, `put version.txt`, `mkdir lock-claim`, `put metadata`, … (an
 * operation and the class of its path, see `pathClass`): the first event of that name, or with
 * `#n` the n-th (`put version.txt#2`: the first retry of the switch). Generated
 * steps use numbers; hand-written reproductions use names, which survive changes to the engine.
 */
export type EventRef = number | string;

export interface GenerateOptions {
  instances: number;
  faults: readonly FaultKind[];
  /** Relative weights; a kind at 0 is never generated. */
  weights?: Partial<Record<StepKind, number>>;
  /** Whether parked syncs may be frozen processes (default true). */
  frozenStalls?: boolean;
  /** Whether a create may copy another file's content, so two rows share one blob (default true). */
  dupContent?: boolean;
}

export const DEFAULT_WEIGHTS: Record<StepKind, number> = {
  create: 12,
  editContent: 10,
  editMeta: 8,
  delete: 5,
  sync: 24,
  syncPark: 6,
  resume: 3,
  resolve: 4,
  restore: 3,
  crash: 6,
  restart: 1,
  clock: 4,
  fault: 13,
  clearFaults: 1,
};

/** Operations each fault can apply to, per target. */
const OPS_BY_TARGET: Record<FaultTarget, readonly RemoteOperation[]> = {
  any: ['stat', 'get', 'getBytes', 'put', 'delete', 'list', 'mkdir', 'serverTime'],
  version: ['getBytes', 'put'],
  lock: ['mkdir', 'getBytes', 'put', 'delete', 'stat', 'serverTime'],
  metadata: ['get', 'put', 'list', 'delete', 'mkdir'],
  blob: ['get', 'put', 'mkdir'],
};

const ONLY_ON: Partial<Record<FaultKind, readonly RemoteOperation[]>> = {
  lostWrite: ['put'],
  truncate: ['get', 'getBytes'],
  lostResponse: ['put', 'delete', 'mkdir'],
};

/** The steps of seed `seed`: a pure function of its arguments. */
export function generateSteps(seed: number, count: number, options: GenerateOptions): Step[] {
  const prng = new Prng(seed);
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  if (options.faults.length === 0) weights.fault = 0;
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) steps.push(generateStep(prng, weights, options));
  return steps;
}

function generateStep(prng: Prng, weights: Record<StepKind, number>, options: GenerateOptions): Step {
  const dt = prng.chance(0.25) ? 0 : prng.chance(0.8) ? prng.int(1, 2000) : prng.int(2000, 120_000);
  const inst = prng.int(0, options.instances - 1);
  const kind = prng.weighted(weights);
  const size = (): number => (prng.chance(0.85) ? prng.int(1, 400) : prng.chance(0.7) ? prng.int(400, 70_000) : prng.int(70_000, 200_000));
  switch (kind) {
    case 'create':
      return { dt, kind, inst, name: prng.int(0, 1_000_000), size: size(), bytes: subSeed(prng), dup: prng.chance(0.12) && options.dupContent !== false ? prng.next() : null };
    case 'editContent':
      return { dt, kind, inst, pick: prng.next(), size: size(), bytes: subSeed(prng) };
    case 'editMeta':
      return { dt, kind, inst, pick: prng.next(), variant: subSeed(prng) };
    case 'delete':
      return { dt, kind, inst, pick: prng.next() };
    case 'sync':
      return { dt, kind, inst, force: prng.chance(0.1) };
    case 'syncPark':
      return { dt, kind, inst, at: prng.int(1, 36), frozen: prng.chance(0.5) && options.frozenStalls !== false };
    case 'resume':
      return { dt, kind, pick: prng.next() };
    case 'resolve':
      return { dt, kind, inst, pick: prng.next(), resolution: prng.pick(RESOLUTION_CHOICES) };
    case 'crash':
      return { dt, kind, inst, at: prng.int(1, 40), after: prng.chance(0.5) };
    case 'restore':
      return { dt, kind, inst, pick: prng.next(), version: prng.next(), trash: prng.chance(0.35) };
    case 'restart':
      return { dt, kind, inst };
    case 'clock':
      return prng.chance(0.5) ? { dt, kind, ms: 0, pastTtl: true } : { dt, kind, ms: prng.int(1_000, 300_000), pastTtl: false };
    case 'fault':
      return generateFault(prng, dt, options.faults);
    case 'clearFaults':
      return { dt, kind };
  }
}

function generateFault(prng: Prng, dt: number, faults: readonly FaultKind[]): Step {
  const fault = prng.pick(faults);
  const target = prng.pick(FAULT_TARGETS);
  let ops = OPS_BY_TARGET[target];
  const only = ONLY_ON[fault];
  if (only) ops = ops.filter((op) => only.includes(op));
  if (ops.length === 0) ops = only ?? OPS_BY_TARGET.any;
  const allOps = !only && prng.chance(0.15);
  const op = allOps ? 'all' : prng.pick(ops);
  // Mostly within what the retries absorb (6 tries); sometimes more, so a sync fails.
  const times = prng.chance(0.75) ? prng.int(1, 3) : prng.int(4, 9);
  // A slow server: mostly seconds, sometimes longer than the lock's time to live.
  const ms = fault === 'delay' ? (prng.chance(0.8) ? prng.int(100, 10_000) : prng.int(30_000, 900_000)) : 0;
  return { dt, kind: 'fault', fault, op, target, times, ms };
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
export function instanceName(index: number): string {
  return NAMES[index] ?? `i${index}`;
}

/** One line per step, as printed for a failure (and readable back with `--replay`). */
export function formatStep(step: Step, index: number): string {
  const { kind, dt, ...rest } = step as Step & Record<string, unknown>;
  const who = 'inst' in rest ? `${instanceName(rest.inst as number)} ` : '';
  delete rest.inst;
  const args = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)}`)
    .join(' ');
  return `#${String(index).padStart(4)} +${dt}ms ${who}${kind}${args ? ` ${args}` : ''}`;
}
