import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig, type Config } from '../src/config.ts';
import { ManualClock } from '../src/domain/clock.ts';
import type { FileRecord } from '../src/domain/file.ts';
import { seededIdSource, type IdSource } from '../src/domain/ids.ts';
import { openDocsync, type Docsync } from '../src/docsync.ts';
import { AppError } from '../src/errors.ts';
import { REMOTE_OPERATIONS, type FaultEffect, type FaultRule, type InjectedFault } from '../src/remote/faults.ts';
import { MemoryRemote } from '../src/remote/memory-remote.ts';
import { remotePaths } from '../src/remote/paths.ts';
import type { PutBody } from '../src/remote/remote.ts';
import { DEFAULT_RETRY_POLICY, RetryingRemote } from '../src/remote/retrying-remote.ts';
import { ConflictRepository } from '../src/store/conflict-repository.ts';
import type { SyncCheckpoint } from '../src/sync/engine.ts';
import { MassDeleteError } from '../src/sync/errors.ts';
import type { SyncSummary } from '../src/sync/events.ts';
import { checkConvergence, checkFinal, checkHistoryBlobs, loadRemote, readHead, type Violation } from './invariants.ts';
import { Model, shareable, stateKey, type Change } from './model.ts';
import { pathClass, peek, peekFolders, SimKill, SimRemote, type CallHooks } from './observer.ts';
import { seedFormat1Remote } from './format1.ts';
import { Prng } from './prng.ts';
import { Stats } from './stats.ts';
import { instanceName, RESOLUTION_CHOICES, type EventRef, type Step } from './steps.ts';

export interface WorldOptions {
  seed: number;
  instances: number;
  /**
   * Lock expiry (default 600 s). The engine renews its lock every TTL/3 on the world's `ManualClock`
   * (`timers`): a renewal fires when a step, a sleep or a delay moves the clock past its time — unless
   * the holder is a frozen parked sync or dead.
   */
  lockTtlSeconds?: number;
  /**
   * The format-2 hooks (`openDocsync`'s `format`): compaction after `maxDeltas` deltas (default
   * `SIM_FORMAT.maxDeltas`) and GC timings in ms (default `SIM_FORMAT.gc`; `gc: false` turns the GC off),
   * so compactions, catch-ups across them and GC runs happen within a few hundred steps.
   */
  format?: { maxDeltas?: number; gc?: { intervalMs: number; windowMs: number; graceMs: number } | false };
  /** Start from a format-1 remote with a few files (written straight into the memory remote); the first sync converts it. */
  startFormat1?: boolean;
  /** How long a sync waits for the lock (default 900 s: longer than the TTL, as in production's 60/300). */
  lockWaitSeconds?: number;
  /** Parent of the run's temp dir (default /dev/shm when present, else the OS temp dir). */
  tmpRoot?: string;
  /** How many sync rounds the end phase allows before calling the run non-converging. */
  maxQuiesceRounds?: number;
  /**
   * Invariants whose violations are only counted (`Stats.tolerated`) instead of stopping the run: to
   * look past a known bug (e.g. `['4']`) for the damage it does, or for other bugs.
   */
  tolerate?: readonly string[];
  /**
   * Known-bug workarounds applied in the end phase, as an operator would: `stale-claim` removes
   * lock takeover claims (`version.txt.lock.takeover-*`) left behind, which otherwise block every
   * takeover of that lock forever.
   */
  workarounds?: readonly string[];
  /**
   * How the server behaves (docs/webdav-servers.md). `atomic` (the default; Apache, the folder remote):
   * exclusive MKCOL, and `If-Match`/`If-None-Match` honoured. `unconditional` (nginx): exclusive MKCOL,
   * preconditions ignored — a sync frozen in the one request between its last check and its version
   * switch still lands it (invariant 4 is only counted), and the lost-commit recovery must keep the
   * data safe. `nonatomic` (rclone): MKCOL answers 'created' to everyone and preconditions are
   * ignored, so the lock gives no mutual exclusion; the spec accepts two holders there (invariant 4 is
   * only counted) and invariants 1-3 and 5 still apply.
   */
  server?: SimServer;
  /** An extra check after the final ones (tests: an invariant broken on purpose, to test the shrinker). */
  extraCheck?: (world: World) => Violation[] | Promise<Violation[]>;
  /** Receives a line per step outcome (and per remote call with `traceCalls`): for diagnosis. */
  trace?: (line: string) => void;
  traceCalls?: boolean;
}

export interface RunResult {
  ok: boolean;
  violations: Violation[];
  stats: Stats;
  /** sha256 of the final state (remote rows, every instance's live files): equal for equal runs. */
  digest: string;
  /** Step index at which the run stopped (the first violation), or the step count. */
  stoppedAt: number;
  /** Steps that found nothing to act on (the shrinker tries dropping them all first). */
  noopSteps: number[];
}

type SyncOutcome =
  | { kind: 'ok'; summary: SyncSummary }
  | { kind: 'failed'; error: unknown }
  | { kind: 'killed' };

interface Arm {
  /** An event number (counted over the incarnation's life) or an event name. */
  at: number | string;
  action: 'pause' | 'crashBefore' | 'crashAfter';
  /** How many events of the armed name went by. */
  seen?: number;
}

/** One life of an instance: from opening its data dir to its close or its death. */
interface Incarnation {
  docsync: Docsync;
  dead: boolean;
  events: number;
  arm: Arm | undefined;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A sync started and not yet awaited to its end (it may be parked). */
interface Running {
  inc: Incarnation;
  done: Promise<SyncOutcome>;
  parked: { gate: Deferred; where: string } | undefined;
  parkedSignal: Deferred;
  /** A frozen process renews nothing while parked (see the `syncPark` step). */
  frozen: boolean;
  /** What the sync read of the shared metadata: a snapshot, deltas (the catch-up counts). */
  read: { snapshot: boolean; delta: boolean };
}

export class SimInstance {
  inc!: Incarnation;
  running: Running | undefined;
  /** The nonce of the lock owner file this instance last wrote (its current lock, if it holds one). */
  lastNonce: string | undefined;
  lastOwnerBytes: Buffer | undefined;
  instanceId = '';

  constructor(
    readonly index: number,
    readonly name: string,
    readonly dataDir: string,
    readonly config: Config,
    readonly ids: IdSource,
  ) {}

  get docsync(): Docsync {
    return this.inc.docsync;
  }
}

export const SIM_SERVERS = ['atomic', 'unconditional', 'nonatomic'] as const;
export type SimServer = (typeof SIM_SERVERS)[number];

/** Temp dirs of the worlds not closed yet: the CLI removes them if the process is interrupted. */
export const openWorldDirs = new Set<string>();

/** Thrown to stop a run at its first violation. */
class StopRun extends Error {}

const START = new ManualClock().now();
const MINUTE = 60_000;
/**
 * The default format-2 hooks: a compaction every 4 deltas; GC due every 5 sim-minutes, history
 * window 20 minutes, grace 5 minutes. A run's clock covers about an hour and a half in 200 steps.
 */
export const SIM_FORMAT = { maxDeltas: 4, gc: { intervalMs: 5 * MINUTE, windowMs: 20 * MINUTE, graceMs: 5 * MINUTE } };
const FILE_EXTS = ['pdf', 'pdf', 'tei.xml', 'xml', 'txt', 'json', '', 'PDF'];
const TAGS = ['thesis', 'draft', 'final', 'review', 'x', 'y', 'z', 'ünïcode', 'with space'];

/**
 * The simulated world: K docsync instances on their own data dirs, one shared `MemoryRemote` with
 * fault injection, one `ManualClock` that every sleep advances instead of waiting. A run executes
 * steps one at a time; a sync either runs to its end within its step or parks at a chosen event and
 * waits there (holding whatever it holds: the lock, a half-made commit) while later steps run — the
 * deterministic stand-in for syncs that overlap in time.
 *
 * Determinism: every choice comes from the step list; ids from `seededIdSource(seed*1000+i)` per
 * instance (kept across restarts, as a real process would draw new randomness); transfers run with
 * one worker (with more, the order of blob transfers depends on disk timing, and so would which call
 * meets a fault).
 */
export class World {
  readonly clock = new ManualClock();
  readonly memory: MemoryRemote;
  readonly instances: SimInstance[] = [];
  readonly model = new Model();
  readonly stats = new Stats();
  readonly violations: Violation[] = [];
  readonly noopSteps: number[] = [];
  readonly root: string;
  readonly ttlMs: number;
  /** Index of the step being run; steps.length and up during the end phase. */
  step = -1;
  private readonly faults: { kind: string; handle: InjectedFault }[] = [];
  private readonly nonceOwners = new Map<string, string>();
  /** Blob paths a late switch named while missing → the instance that must put them back (invariant 5). */
  private readonly blobsAwaitingRepair = new Map<string, SimInstance>();
  /** Restores not yet seen synced (see `Model.restoreShared`). */
  private readonly pendingRestores = new Set<Change>();
  private readonly sleep = async (ms: number): Promise<void> => {
    this.advance(ms);
  };

  constructor(readonly options: WorldOptions) {
    this.ttlMs = (options.lockTtlSeconds ?? 600) * 1000;
    this.memory = new MemoryRemote({ clock: this.clock, sleep: this.sleep, description: 'memory://sim' });
    const tmpRoot = options.tmpRoot ?? (isWritableDir('/dev/shm') ? '/dev/shm' : os.tmpdir());
    this.root = fs.mkdtempSync(path.join(tmpRoot, `docsync-sim-${options.seed}-`));
    openWorldDirs.add(this.root);
    fs.mkdirSync(path.join(this.root, 'check'));
    if (options.trace) {
      this.model.onChange = (c, parent) => this.trace(`  change #${c.id}: ${c.kind} by ${c.instance} → ${c.key}${parent ? ` (on ${parent})` : ''}`);
    }
    for (let i = 0; i < options.instances; i++) {
      const name = instanceName(i);
      const dataDir = path.join(this.root, name);
      const config = loadConfig(
        {
          DOCSYNC_DATA_DIR: dataDir,
          DOCSYNC_REMOTE: 'file:///docsync-sim-memory-remote',
          DOCSYNC_LOCK_TTL: String(options.lockTtlSeconds ?? 600),
          DOCSYNC_LOCK_WAIT: String(options.lockWaitSeconds ?? 900),
          DOCSYNC_TRANSFER_WORKERS: '1',
          DOCSYNC_SYNC_INTERVAL: '0',
          DOCSYNC_LOG_LEVEL: 'silent',
        },
        {},
        this.root,
      );
      const instance = new SimInstance(i, name, dataDir, config, seededIdSource(options.seed * 1000 + i));
      this.open(instance);
      this.instances.push(instance);
    }
  }

  /** Runs the steps, then the end phase, then the final checks. Stops at the first violation. */
  async run(steps: readonly Step[]): Promise<RunResult> {
    let stoppedAt = steps.length;
    try {
      if (this.options.startFormat1) await seedFormat1Remote(this);
      for (let i = 0; i < steps.length; i++) {
        this.step = i;
        await this.execute(steps[i]!);
        this.throwIfViolated();
      }
      this.step = steps.length;
      await this.quiesce();
      this.throwIfViolated();
      this.addViolations(await checkFinal(this));
      if (this.options.extraCheck) this.addViolations(await this.options.extraCheck(this));
    } catch (error) {
      if (!(error instanceof StopRun)) {
        this.violations.push({ invariant: 'harness', step: this.step, message: `the run itself failed: ${describeError(error)}` });
      }
      stoppedAt = this.step;
    }
    this.stats.faultsFired = {};
    for (const { kind, handle } of this.faults) this.stats.faultsFired[kind] = (this.stats.faultsFired[kind] ?? 0) + handle.hits;
    return { ok: this.violations.length === 0, violations: this.violations, stats: this.stats, digest: this.digest(), stoppedAt, noopSteps: this.noopSteps };
  }

  /** Kills what still runs and removes the temp dir. */
  async close(): Promise<void> {
    try {
      for (const instance of this.instances) {
        const running = instance.running;
        if (running?.parked) {
          this.kill(instance, running.inc, 'close');
          running.parked.gate.reject(new SimKill('close'));
        }
        if (running) await running.done;
        if (!instance.inc.dead) {
          try {
            instance.inc.docsync.close();
          } catch {
            // already closed
          }
        }
      }
    } finally {
      fs.rmSync(this.root, { recursive: true, force: true });
      openWorldDirs.delete(this.root);
    }
  }

  // ---- steps ---------------------------------------------------------------------------------

  async execute(step: Step): Promise<void> {
    this.advance(step.dt);
    this.stats.count(step.kind);
    this.trace(`step ${this.step} (t=${this.clock.now() - START}ms): ${step.kind}${'inst' in step ? ` on ${this.instances[step.inst]!.name}` : ''}`);
    switch (step.kind) {
      case 'create':
        return this.create(this.instances[step.inst]!, step);
      case 'editContent':
        return this.editContent(this.instances[step.inst]!, step);
      case 'editMeta':
        return this.editMeta(this.instances[step.inst]!, step);
      case 'delete':
        return this.deleteFile(this.instances[step.inst]!, step.pick);
      case 'sync':
        return this.syncStep(this.instances[step.inst]!, step.force);
      case 'syncPark':
        return this.syncPark(this.instances[step.inst]!, step.at, step.frozen);
      case 'resume': {
        const parked = this.instances.filter((i) => i.running?.parked);
        if (parked.length === 0) return this.noop(step.kind);
        return this.resume(parked[Math.floor(step.pick * parked.length)]!);
      }
      case 'resolve':
        return this.resolveStep(this.instances[step.inst]!, step.pick, step.resolution);
      case 'restore':
        return this.restoreStep(this.instances[step.inst]!, step);
      case 'crash':
        return this.crashStep(this.instances[step.inst]!, step.at, step.after);
      case 'restart':
        return this.restartStep(this.instances[step.inst]!);
      case 'clock':
        this.advance(step.pastTtl ? this.ttlMs + 3_000 : step.ms);
        return;
      case 'fault':
        return this.injectFault(step);
      case 'clearFaults':
        this.memory.faults.clear();
        return;
    }
  }

  private liveFiles(instance: SimInstance): FileRecord[] {
    return instance.docsync.files
      .list({ limit: 1_000_000 })
      .files.sort((a, b) => (a.stable_id < b.stable_id ? -1 : 1));
  }

  private pickLive(instance: SimInstance, pick: number, kind: string): FileRecord | undefined {
    const live = this.liveFiles(instance);
    if (live.length === 0) {
      this.noop(kind);
      return undefined;
    }
    return live[Math.floor(pick * live.length)]!;
  }

  private uniqueContent(changeId: number, size: number, seed: number): Buffer {
    const head = Buffer.from(`docsync sim seed ${this.options.seed} change ${changeId}\n`);
    return Buffer.concat([head, new Prng(seed).bytes(Math.max(0, size - head.length))]);
  }

  private async create(instance: SimInstance, step: Extract<Step, { kind: 'create' }>): Promise<void> {
    const id = this.model.peekId();
    const prng = new Prng(step.bytes);
    let content = this.uniqueContent(id, step.size, step.bytes);
    if (step.dup !== null) {
      // Same content as another file: two rows sharing one blob.
      const live = this.liveFiles(instance);
      const source = live[Math.floor(step.dup * live.length)];
      if (source) content = await this.readBlob(instance, source);
    }
    const ext = FILE_EXTS[step.name % FILE_EXTS.length]!;
    const filename = `doc-${step.name % 40}${ext ? `.${ext}` : ''}`;
    const created = await instance.docsync.files.create(Readable.from([content]), {
      filename,
      collections: prng.chance(0.3) ? [prng.pick(TAGS)] : [],
      labels: prng.chance(0.3) ? [prng.pick(TAGS), prng.pick(TAGS)] : [],
      docId: prng.chance(0.3) ? `doc-${prng.int(1, 5)}` : null,
      metadata: { rev: id, by: instance.name },
    });
    this.model.record(this.step, instance.name, 'create', undefined, created);
  }

  private async editContent(instance: SimInstance, step: Extract<Step, { kind: 'editContent' }>): Promise<void> {
    const target = this.pickLive(instance, step.pick, step.kind);
    if (!target) return;
    const id = this.model.peekId();
    const after = await instance.docsync.files.replaceContent(target.stable_id, Readable.from([this.uniqueContent(id, step.size, step.bytes)]));
    this.model.record(this.step, instance.name, 'content', target, after);
  }

  private async editMeta(instance: SimInstance, step: Extract<Step, { kind: 'editMeta' }>): Promise<void> {
    const target = this.pickLive(instance, step.pick, step.kind);
    if (!target) return;
    const id = this.model.peekId();
    const prng = new Prng(step.variant);
    const after = instance.docsync.files.updateMetadata(target.stable_id, {
      metadata: { ...(prng.chance(0.5) ? target.metadata : {}), rev: id, by: instance.name },
      ...(prng.chance(0.3) && { filename: `renamed-${prng.int(0, 99)}.${prng.pick(['pdf', 'xml', 'txt'])}` }),
      ...(prng.chance(0.3) && { labels: [prng.pick(TAGS)] }),
      ...(prng.chance(0.3) && { collections: prng.chance(0.5) ? [] : [prng.pick(TAGS), prng.pick(TAGS)] }),
      ...(prng.chance(0.2) && { doc_id: prng.chance(0.3) ? null : `doc-${prng.int(1, 5)}` }),
    });
    this.model.record(this.step, instance.name, 'meta', target, after);
  }

  private async deleteFile(instance: SimInstance, pick: number): Promise<void> {
    const target = this.pickLive(instance, pick, 'delete');
    if (!target) return;
    const after = instance.docsync.files.delete(target.stable_id);
    this.model.record(this.step, instance.name, 'delete', target, after);
  }

  private async syncStep(instance: SimInstance, force: boolean): Promise<void> {
    if (instance.running?.parked) return this.resume(instance);
    const running = this.startSync(instance, { force }, undefined);
    this.record(instance, await running.done);
  }

  private async syncPark(instance: SimInstance, at: EventRef, frozen: boolean): Promise<void> {
    if (instance.running?.parked) return this.resume(instance);
    const running = this.startSync(instance, {}, { at, action: 'pause' });
    running.frozen = frozen;
    await Promise.race([running.done, running.parkedSignal.promise]);
    if (running.parked) {
      this.stats.syncs.parked++;
      this.trace(`  ${instance.name} parked at ${running.parked.where}`);
      return;
    }
    this.record(instance, await running.done);
  }

  private async resume(instance: SimInstance): Promise<void> {
    const running = instance.running!;
    this.stats.syncs.resumed++;
    running.parked!.gate.resolve();
    this.record(instance, await running.done);
  }

  private async crashStep(instance: SimInstance, at: EventRef, after: boolean): Promise<void> {
    const parked = instance.running?.parked;
    if (parked) {
      this.kill(instance, instance.running!.inc, `parked at ${parked.where}`);
      parked.gate.reject(new SimKill(parked.where));
      this.record(instance, await instance.running!.done);
    } else {
      const running = this.startSync(instance, {}, { at, action: after ? 'crashAfter' : 'crashBefore' });
      this.record(instance, await running.done);
    }
    if (instance.inc.dead) this.open(instance);
  }

  private async restartStep(instance: SimInstance): Promise<void> {
    if (instance.running?.parked) return this.crashStep(instance, 0, false);
    instance.docsync.close();
    this.stats.restarts++;
    this.open(instance);
  }

  private async resolveStep(instance: SimInstance, pick: number, resolution: string): Promise<void> {
    const conflicts = instance.docsync.sync.conflicts().sort((a, b) => (a.stable_id < b.stable_id ? -1 : 1));
    if (conflicts.length === 0) return this.noop('resolve');
    await this.resolve(instance, conflicts[Math.floor(pick * conflicts.length)]!.stable_id, resolution);
  }

  /**
   * A restore from the history: an older version of a file with two or more (any version but the
   * current one, so a deletion or the current content now and then), or a file from the trash. A
   * local change like an edit; a clean refusal (an `AppError`: content_unavailable, file_in_conflict,
   * version_is_deletion, a remote error while fetching the blob) is counted, anything else is a violation.
   */
  private async restoreStep(instance: SimInstance, step: Extract<Step, { kind: 'restore' }>): Promise<void> {
    const { history, historyRepository } = instance.docsync;
    let id: string;
    let restore: () => Promise<FileRecord>;
    if (step.trash) {
      const trashed = history.trash({ limit: 1_000_000 }).files.sort((a, b) => (a.stable_id < b.stable_id ? -1 : 1));
      if (trashed.length === 0) return this.noop('restore');
      id = trashed[Math.floor(step.pick * trashed.length)]!.stable_id;
      restore = () => history.restoreDeleted(id);
    } else {
      const files = this.liveFiles(instance).filter((f) => historyRepository.versionsOf(f.stable_id).length >= 2);
      if (files.length === 0) return this.noop('restore');
      id = files[Math.floor(step.pick * files.length)]!.stable_id;
      const older = history.versions(id).filter((v) => !v.current);
      const version = older[Math.floor(step.version * older.length)]!.version;
      restore = () => history.restoreVersion(id, version);
    }
    const kind = step.trash ? 'trash' : 'version';
    const before = instance.docsync.fileRepository.get(id)!;
    let after: FileRecord;
    try {
      after = await restore();
    } catch (error) {
      if (!(error instanceof AppError)) return this.unexpected(instance, `restore (${kind})`, error);
      this.stats.restoreFailures[error.code] = (this.stats.restoreFailures[error.code] ?? 0) + 1;
      this.trace(`  ${instance.name} restore (${kind}) of ${id} refused: ${error.code}`);
      return;
    }
    // Restoring the version the file already has changes nothing.
    if (shareable(after) === shareable(before) && after.updated_at === before.updated_at && after.sync_status === before.sync_status) {
      this.stats.restores[`${kind} (unchanged)`] = (this.stats.restores[`${kind} (unchanged)`] ?? 0) + 1;
      return;
    }
    this.stats.restores[kind] = (this.stats.restores[kind] ?? 0) + 1;
    // A tombstone pulled from elsewhere keeps the local fields, a state no change made: its history is
    // that of the deletions that reached the remote as its tombstone.
    const parent = before.deleted && !this.model.known(before) ? this.model.tombstoneHistory(before.stable_id, before.remote_version) : undefined;
    this.pendingRestores.add(this.model.record(this.step, instance.name, 'restore', before, after, parent));
    if (before.deleted && before.sync_status === 'synced' && before.remote_version !== null) {
      this.model.undoTombstone(before.stable_id, before.remote_version, after, `restore from the trash on ${instance.name} at step ${this.step}`);
    }
  }

  /** Resolves one conflict and tells the model what the resolution kept and dropped. */
  async resolve(instance: SimInstance, stableId: string, resolution: string): Promise<void> {
    const { docsync } = instance;
    const local = docsync.fileRepository.get(stableId)!;
    const stored = new ConflictRepository(docsync.db).get(stableId)!;
    const remote = { ...stored.remote!, stable_id: stableId };
    const before = new Set(this.allRows(instance).map((r) => r.stable_id));
    let error: unknown;
    try {
      await docsync.sync.resolveConflict(stableId, resolution);
    } catch (e) {
      error = e;
    }
    // keep_both makes its copy first: a failed download of the remote side still leaves the copy.
    const copies = this.allRows(instance).filter((r) => !before.has(r.stable_id));
    for (const copy of copies) this.model.record(this.step, instance.name, 'copy', local, copy);
    if (copies.length > 1) this.addViolations([{ invariant: '2', step: this.step, message: `one keep_both made ${copies.length} copies` }]);
    if (error !== undefined) {
      this.stats.resolveFailures++;
      if (!(error instanceof AppError)) this.unexpected(instance, 'resolve', error);
      if (copies.length > 0) this.stats.partialKeepBoth++;
      return;
    }
    this.stats.resolutions[resolution] = (this.stats.resolutions[resolution] ?? 0) + 1;
    const localH = this.model.historyOf(local, `conflict on ${instance.name}`);
    const remoteH = this.model.historyOf(remote, `conflict on ${instance.name}`);
    if ([...localH].every((c) => remoteH.has(c)) || [...remoteH].every((c) => localH.has(c))) {
      this.stats.spuriousConflicts++;
      if (this.stats.spuriousSamples.length < 5) {
        this.stats.spuriousSamples.push(`step ${this.step} ${instance.name} ${stableId}: ${stored.conflict_type}, one side already includes the other`);
      }
    }
    const kept = resolution === 'local_wins' ? [local] : resolution === 'remote_wins' ? [remote] : [remote, ...copies];
    const droppedBefore = this.model.dropped.size;
    this.model.resolve(this.step, instance.name, resolution, local, remote, kept);
    this.trace(
      `  ${instance.name} resolved ${stored.conflict_type} on ${stableId} with ${resolution}: local ${stateKey(local)}, remote ${stateKey(remote)} v${stored.remote!.version}` +
        `${copies.length ? `, copy ${copies[0]!.stable_id}` : ''}; ${this.model.dropped.size - droppedBefore} change(s) dropped`,
    );
  }

  private allRows(instance: SimInstance): FileRecord[] {
    return instance.docsync.files.list({ limit: 1_000_000, includeDeleted: true }).files;
  }

  private injectFault(step: Extract<Step, { kind: 'fault' }>): void {
    const effect: FaultEffect =
      step.fault === '412' ? { kind: 'precondition' }
      : step.fault === '423' || step.fault === '500' || step.fault === '503' ? { kind: 'error', status: Number(step.fault) as 423 | 500 | 503 }
      : step.fault === 'delay' ? { kind: 'delay', ms: step.ms }
      : { kind: step.fault };
    const filters: Record<string, FaultRule['path']> = {
      any: undefined,
      version: (p) => p === remotePaths.versionFile,
      lock: remotePaths.lockDir,
      metadata: (p) => pathClass(p) === 'metadata',
      blob: (p) => /^[0-9a-f]{2}\//.test(p),
    };
    const path = filters[step.target];
    const handle = this.memory.faults.inject({
      op: step.op === 'all' ? REMOTE_OPERATIONS : step.op,
      ...(path !== undefined && { path }),
      times: step.times,
      effect,
    });
    this.faults.push({ kind: step.fault, handle });
    this.stats.faultsInjected[step.fault] = (this.stats.faultsInjected[step.fault] ?? 0) + 1;
  }

  // ---- syncs, parking, crashes ---------------------------------------------------------------

  /** Opens (or reopens, after a crash) the instance on its data dir. */
  private open(instance: SimInstance): void {
    const inc: Incarnation = { docsync: undefined as unknown as Docsync, dead: false, events: 0, arm: undefined };
    const remote = new RetryingRemote(
      new SimRemote(this.memory, this.hooks(instance, inc), {
        exclusiveMkcol: this.options.server !== 'nonatomic',
        preconditions: (this.options.server ?? 'atomic') === 'atomic',
      }),
      DEFAULT_RETRY_POLICY,
      this.sleep,
    );
    const gc = this.options.format?.gc ?? SIM_FORMAT.gc;
    inc.docsync = openDocsync(instance.config, {
      clock: this.clock,
      // The lock's renewal fires as the clock moves; a dead incarnation or a frozen parked sync (a
      // stopped process) renews nothing.
      timers: {
        every: (ms, fn) =>
          this.clock.every(ms, () => {
            const running = instance.running;
            if (!inc.dead && !(running?.inc === inc && running.frozen && running.parked)) fn();
          }),
      },
      ids: instance.ids,
      remote,
      sync: { sleep: this.sleep, checkpoint: (point) => this.checkpoint(instance, inc, point) },
      format: { maxDeltas: this.options.format?.maxDeltas ?? SIM_FORMAT.maxDeltas, gc: gc === false ? { ...SIM_FORMAT.gc, intervalMs: 0 } : gc },
    });
    instance.inc = inc;
    instance.instanceId = inc.docsync.instanceId;
    // A killed sync may have committed some of its work before it died (a deletion marked synced at
    // the remote's tombstone, merged into it): what the reopened store holds is what it did.
    this.attributeDeletions(instance);
  }

  private startSync(instance: SimInstance, options: { force?: boolean }, arm: Arm | undefined): Running {
    const inc = instance.inc;
    if (arm) inc.arm = { at: typeof arm.at === 'number' ? inc.events + arm.at : arm.at, action: arm.action };
    this.stats.syncs.started++;
    const running: Running = { inc, done: undefined as unknown as Promise<SyncOutcome>, parked: undefined, parkedSignal: deferred(), frozen: false, read: { snapshot: false, delta: false } };
    // Set before the sync starts: its first remote call (and event) happens synchronously.
    instance.running = running;
    running.done = inc.docsync.sync
      .sync(options)
      .then(
        (summary): SyncOutcome => ({ kind: 'ok', summary }),
        (error: unknown): SyncOutcome => (inc.dead ? { kind: 'killed' } : { kind: 'failed', error }),
      )
      .finally(() => {
        if (running.read.snapshot) this.stats.catchUps.snapshot++;
        else if (running.read.delta) this.stats.catchUps.deltas++;
        inc.arm = undefined;
        if (instance.running === running) instance.running = undefined;
      });
    return running;
  }

  private record(instance: SimInstance, outcome: SyncOutcome): void {
    const s = this.stats.syncs;
    if (!instance.inc.dead) this.attributeDeletions(instance);
    this.trace(
      `  ${instance.name} sync: ${outcome.kind === 'ok' ? `${outcome.summary.skipped ? 'skipped' : 'ok'} — ${outcome.summary.message} (v${outcome.summary.new_version})` : outcome.kind === 'failed' ? `failed — ${describeError(outcome.error).split('\n')[0]}` : 'killed'}`,
    );
    if (outcome.kind === 'killed') {
      s.killed++;
    } else if (outcome.kind === 'ok') {
      this.settleLateBlobs(instance);
      if (outcome.summary.skipped) s.skipped++;
      else s.ok++;
      const gc = outcome.summary.gc;
      if (gc) {
        this.stats.gc.runs++;
        this.stats.gc.blobs += gc.blobs_deleted;
        this.stats.gc.journals += gc.journals_deleted;
        this.stats.gc.snapshots += gc.snapshots_deleted;
        this.stats.gc.errors += gc.errors;
      }
      this.stats.conflicts += outcome.summary.conflicts;
      this.stats.transferErrors += outcome.summary.errors;
    } else {
      s.failed++;
      const code = outcome.error instanceof AppError ? outcome.error.code : 'unexpected';
      this.stats.syncFailures[code] = (this.stats.syncFailures[code] ?? 0) + 1;
      if (!(outcome.error instanceof AppError)) this.unexpected(instance, 'sync', outcome.error);
    }
  }

  /**
   * Invariant 5 for the blobs a late switch of this instance named while they were missing: once a
   * sync of it ended well (the one that switched, or after a crash the next one), they are back —
   * or no live remote row names them any more.
   */
  private settleLateBlobs(instance: SimInstance): void {
    const waiting = new Set([...this.blobsAwaitingRepair].filter(([, by]) => by === instance).map(([blob]) => blob));
    if (waiting.size === 0) return;
    for (const blob of waiting) this.blobsAwaitingRepair.delete(blob);
    const { missing } = loadRemote(this);
    this.stats.lateSwitchBlobs.putBack += [...waiting].filter((blob) => peek(this.memory, blob)).length;
    this.addViolations(
      missing
        .filter((blob) => waiting.has(blob.path))
        .map((blob) => ({ invariant: '5', step: this.step, message: `${instance.name}'s sync ended without putting back what its late switch named: ${blob.message}` })),
    );
  }

  /** Tells the model which of this instance's deletions reached the remote (and as which tombstone), and which restores. */
  private attributeDeletions(instance: SimInstance): void {
    for (const change of this.pendingRestores) {
      if (change.instance !== instance.name) continue;
      const row = instance.docsync.fileRepository.get(change.stableId);
      if (row?.sync_status === 'synced' && stateKey(row) === change.key) {
        this.model.restoreShared(change);
        this.pendingRestores.delete(change);
      }
    }
    for (const change of this.model.unattributed) {
      if (change.instance !== instance.name) continue;
      const row = instance.docsync.fileRepository.get(change.stableId);
      if (row?.deleted && row.sync_status === 'synced' && row.remote_version !== null) this.model.attributeDeletion(change, row.remote_version);
    }
  }

  private unexpected(instance: SimInstance, what: string, error: unknown): void {
    this.addViolations([{ invariant: 'error', step: this.step, message: `${what} on ${instance.name} threw an unexpected error: ${describeError(error)}` }]);
  }

  /** Kills an incarnation where it stands: its database is closed, every later call of it fails. */
  kill(instance: SimInstance, inc: Incarnation, where: string): void {
    if (inc.dead) return;
    inc.dead = true;
    this.stats.crashes++;
    this.stats.crashPoints[where] = (this.stats.crashPoints[where] ?? 0) + 1;
    try {
      inc.docsync.close();
    } catch {
      // already closed
    }
  }

  /** One event of a running sync: where it may be parked or killed. */
  private async event(instance: SimInstance, inc: Incarnation, where: string, checkpoint: boolean): Promise<boolean> {
    if (inc.dead) throw new SimKill(`${where} (already dead)`);
    inc.events++;
    const arm = inc.arm;
    if (!arm || !this.armHit(arm, inc, where)) return false;
    inc.arm = undefined;
    if (arm.action === 'pause') {
      const running = instance.running!;
      const gate = deferred();
      running.parked = { gate, where };
      running.parkedSignal.resolve();
      await gate.promise; // rejects with SimKill if the parked sync is killed
      running.parked = undefined;
      return false;
    }
    if (arm.action === 'crashBefore' || checkpoint) {
      this.kill(instance, inc, checkpoint ? where : `before ${where}`);
      throw new SimKill(where);
    }
    return true;
  }

  /** Whether this event is the armed one: its number, or the n-th event of a name (`put version.txt#2`). */
  private armHit(arm: Arm, inc: Incarnation, where: string): boolean {
    if (typeof arm.at === 'number') return inc.events === arm.at;
    const [name, nth] = arm.at.split('#') as [string, string | undefined];
    if (where !== name) return false;
    arm.seen = (arm.seen ?? 0) + 1;
    return arm.seen === Number(nth ?? 1);
  }

  private async checkpoint(instance: SimInstance, inc: Incarnation, point: SyncCheckpoint): Promise<void> {
    if (this.options.traceCalls) this.trace(`    ${instance.name} #${inc.events + 1} checkpoint ${point}`);
    await this.event(instance, inc, `checkpoint ${point}`, true);
  }

  private hooks(instance: SimInstance, inc: Incarnation): CallHooks {
    return {
      before: (op, p) => {
        if (this.options.traceCalls) this.trace(`    ${instance.name}${inc.dead ? ' (dead)' : ''} #${inc.events + 1} ${op} ${p}`);
        return this.event(instance, inc, `${op} ${pathClass(p)}`, false);
      },
      observe: (op, p, body) => this.observe(instance, op, p, body),
      killAfter: (op, p) => {
        this.kill(instance, inc, `after ${op} ${pathClass(p)}`);
        throw new SimKill(`after ${op} ${p}`);
      },
    };
  }

  /**
   * Invariant 4 (one lock holder): every switch of `version.txt` must be made by the instance whose
   * nonce the lock owner file holds at that moment — or be built directly on the head it replaced
   * (a sync that lost its lock while frozen, whose conditional switch found the head unchanged: it
   * overwrote no one). Invariant 5 is checked on every switch too.
   */
  private observe(instance: SimInstance, op: string, p: string, body: PutBody | undefined): (() => void) | undefined {
    if ((op === 'get' || op === 'getBytes') && instance.running) {
      if (p.startsWith(`${remotePaths.snapshotsDir}/`) || p.startsWith(`${remotePaths.metadataDir}/`)) instance.running.read.snapshot = true;
      else if (p.startsWith(`${remotePaths.journalDir}/`)) instance.running.read.delta = true;
    }
    if (op === 'put' && p === remotePaths.lockOwner && Buffer.isBuffer(body)) {
      const nonce = parseOwner(body)?.nonce;
      // The same nonce with other bytes is a renewal (the same bytes: a retried write).
      if (nonce && nonce === instance.lastNonce && !body.equals(instance.lastOwnerBytes ?? Buffer.alloc(0))) this.stats.renewals++;
      instance.lastOwnerBytes = body;
      if (nonce) {
        instance.lastNonce = nonce;
        this.nonceOwners.set(nonce, instance.name);
      }
      return undefined;
    }
    if (op === 'delete' && p === remotePaths.lockDir) {
      const owner = parseOwner(peek(this.memory, remotePaths.lockOwner));
      if (owner && owner.owner !== instance.instanceId) this.stats.lockTakeovers++;
      else if (owner && owner.nonce !== instance.lastNonce) this.stats.ownLockReclaims++;
      return undefined;
    }
    if (op !== 'put' || p !== remotePaths.versionFile) return undefined;
    const before = peek(this.memory, remotePaths.versionFile);
    const ownerBytes = peek(this.memory, remotePaths.lockOwner);
    return () => {
      const after = peek(this.memory, remotePaths.versionFile);
      if (!after || (before && before.equals(after))) return;
      this.stats.versionSwitches++;
      const newHead = readHead(after);
      const oldHead = readHead(before);
      if (oldHead && newHead?.format === 2 && newHead.snapshot.version === newHead.version && oldHead.snapshot.version !== newHead.version) {
        this.stats.compactions++;
      }
      const owner = parseOwner(ownerBytes);
      const lockless = !owner || owner.nonce !== instance.lastNonce || owner.owner !== instance.instanceId;
      // Invariant 5 on the new head, and no remote row in a state that no change produced (2).
      const { rows, problems, recentCommits, missing } = loadRemote(this);
      // A switch made without the lock may come late, after another holder's GC deleted blobs its
      // rows name (bug 16): its author looks once the switch is done and puts them back before its
      // sync ends (src/sync/late-switch.ts). Those blobs are judged then (`settleLateBlobs`).
      for (const blob of missing) {
        if (!lockless || this.blobsAwaitingRepair.has(blob.path)) continue;
        this.blobsAwaitingRepair.set(blob.path, instance);
        this.stats.lateSwitchBlobs.missing++;
      }
      const deferred = new Set(missing.filter((blob) => this.blobsAwaitingRepair.has(blob.path)).map((blob) => blob.message));
      this.addViolations(
        problems.filter((message) => !deferred.has(message)).map((message) => ({ invariant: '5', step: this.step, message: `after ${instance.name}'s switch: ${message}` })),
      );
      this.addViolations(checkHistoryBlobs(this).map((message) => ({ invariant: '6', step: this.step, message: `at ${instance.name}'s switch: ${message}` })));
      for (const row of rows) this.model.historyOf(row, `remote row after ${instance.name}'s switch to v${readHead(after)?.version ?? '?'}`);
      // What the lock protects is version.txt: a switch built directly on the head it replaced (a
      // conditional switch that found the head unchanged) overwrote no one, lock or not.
      const replaced = before && readHead(before)?.commit;
      const onUnchangedHead = replaced ? recentCommits.at(-2) === replaced : recentCommits.length === 1;
      if (lockless) {
        if (onUnchangedHead) {
          this.stats.lateSwitchesOnUnchangedHead++;
          return;
        }
        const holder = owner ? `${this.nonceOwners.get(owner.nonce) ?? '?'} (nonce ${owner.nonce}, expires ${owner.expires_at})` : 'nobody (no owner file)';
        this.addViolations([
          {
            invariant: '4',
            step: this.step,
            message: `${instance.name} switched version.txt to version ${readHead(after)?.version ?? '?'} while the lock was held by ${holder}; ${instance.name}'s last lock nonce was ${instance.lastNonce ?? 'none'}`,
          },
        ]);
      } else if (Date.parse(owner.expires_at) < this.clock.now()) {
        this.stats.switchesUnderExpiredLock++;
      }
    };
  }

  // ---- the end phase ---------------------------------------------------------------------------

  /**
   * Brings the world to rest: parked syncs finish, faults stop, every lock expires, and every instance
   * syncs round-robin until a whole round is skipped by everyone (nothing to push, remote unchanged).
   *
   * "Converged" with conflicts open: the remote holds one version of every file; an instance with a
   * file in conflict keeps its own side of that file, and must agree with the remote on every other
   * file. That is checked first; then every open conflict is resolved (random resolution, seeded),
   * everyone syncs again until quiet, and the final checks demand full agreement with no conflict
   * left (conflicts met along the way count as "kept in a conflict" only through their resolution,
   * which the model records).
   */
  async quiesce(): Promise<void> {
    this.trace(`end phase (t=${this.clock.now() - START}ms)`);
    for (const instance of this.instances) {
      if (instance.running?.parked) await this.resume(instance);
    }
    this.memory.faults.clear();
    this.advance(this.ttlMs + 3_000);
    if (this.options.workarounds?.includes('stale-claim')) {
      for (const folder of peekFolders(this.memory, `${remotePaths.lockDir}.takeover-`)) {
        await this.memory.delete(folder);
        this.stats.workaroundsApplied++;
      }
    }
    const prng = new Prng(this.options.seed ^ 0x5eed);
    await this.syncUntilQuiet('after the faults stopped');
    this.throwIfViolated();
    this.addViolations(await checkConvergence(this, true));
    this.throwIfViolated();
    for (let round = 0; round < 8; round++) {
      const open = this.instances.flatMap((instance) => instance.docsync.sync.conflicts().map((c) => ({ instance, id: c.stable_id })));
      if (open.length === 0) return;
      for (const { instance, id } of open) {
        if (instance.docsync.fileRepository.get(id)?.sync_status !== 'conflict') continue;
        await this.resolve(instance, id, prng.pick(RESOLUTION_CHOICES));
        this.stats.endResolutions++;
      }
      await this.syncUntilQuiet(`after resolving conflicts (round ${round + 1})`);
      this.throwIfViolated();
    }
    this.addViolations([{ invariant: '1', step: this.step, message: 'conflicts keep coming back after 8 rounds of resolving them' }]);
  }

  private async syncUntilQuiet(when: string): Promise<void> {
    const maxRounds = this.options.maxQuiesceRounds ?? 12;
    const failures: string[] = [];
    for (let round = 0; round < maxRounds; round++) {
      this.stats.quiesceRounds++;
      let quiet = true;
      failures.length = 0;
      for (const instance of this.instances) {
        let outcome = await this.startSync(instance, {}, undefined).done;
        if (outcome.kind === 'failed' && outcome.error instanceof MassDeleteError) {
          outcome = await this.startSync(instance, { force: true }, undefined).done;
        }
        this.record(instance, outcome);
        if (outcome.kind !== 'ok' || !outcome.summary.skipped) quiet = false;
        if (outcome.kind === 'failed') failures.push(`${instance.name}: ${describeError(outcome.error)}`);
        if (outcome.kind === 'ok' && outcome.summary.errors > 0) failures.push(`${instance.name}: ${outcome.summary.message}`);
      }
      if (quiet) return;
    }
    this.addViolations([
      {
        invariant: '1',
        step: this.step,
        message:
          `no convergence ${when}: still not quiet after ${maxRounds} rounds of syncs without faults` +
          `${failures.length ? `; last failures: ${failures.join('; ')}` : ''}; lock state: ${this.lockState()}`,
      },
    ]);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Moves the clock; the lock renewals that fall due on the way fire (see `open`). */
  private advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** The lock folders and owner file on the remote, for messages. */
  lockState(): string {
    const folders = peekFolders(this.memory, remotePaths.lockDir);
    const owner = parseOwner(peek(this.memory, remotePaths.lockOwner));
    const holder = owner && `${this.nonceOwners.get(owner.nonce) ?? '?'} (nonce ${owner.nonce}, expires ${owner.expires_at})`;
    return `${folders.length ? folders.join(', ') : 'no lock folders'}; owner: ${holder ?? 'none'}; now ${new Date(this.clock.now()).toISOString()}`;
  }

  private noop(kind: string): void {
    this.stats.noop(kind);
    this.noopSteps.push(this.step);
  }

  private trace(line: string): void {
    this.options.trace?.(line);
  }

  addViolations(violations: Violation[]): void {
    for (const violation of violations) {
      // Without preconditions a late switch rewrites history (4), and the versions of the commits it
      // replaced stay listed in the histories that saw them, their blobs free for the GC (6).
      const rewrites = (this.options.server ?? 'atomic') !== 'atomic';
      const tolerated = this.options.tolerate?.includes(violation.invariant) || (rewrites && (violation.invariant === '4' || violation.invariant === '6'));
      if (tolerated) {
        this.stats.tolerated[violation.invariant] = (this.stats.tolerated[violation.invariant] ?? 0) + 1;
        if (this.stats.toleratedSamples.length < 3) this.stats.toleratedSamples.push(`step ${violation.step}: ${violation.message}`);
        this.trace(`  tolerated violation of invariant ${violation.invariant}: ${violation.message}`);
      } else {
        this.violations.push(violation);
      }
    }
  }

  private throwIfViolated(): void {
    const problems = this.model.problems.splice(0);
    this.addViolations(problems.map((p) => ({ ...p, step: this.step })));
    if (this.violations.length > 0) throw new StopRun();
  }

  async readBlob(instance: SimInstance, file: FileRecord): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of instance.docsync.files.openContent(file)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Hash of what the run ended with; equal for two runs of one seed. */
  private digest(): string {
    const hash = createHash('sha256');
    const head = peek(this.memory, remotePaths.versionFile);
    hash.update(head ?? Buffer.alloc(0));
    for (const instance of this.instances) {
      if (instance.inc.dead) continue;
      try {
        for (const row of this.allRows(instance).sort((a, b) => (a.stable_id < b.stable_id ? -1 : 1))) {
          hash.update(JSON.stringify([instance.name, row.stable_id, row.hash, row.filename, row.metadata, row.deleted, row.sync_status, row.updated_at]));
        }
      } catch {
        // a closed database: nothing to add
      }
    }
    hash.update(JSON.stringify(this.stats.forDigest()));
    return hash.digest('hex');
  }
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function parseOwner(bytes: Buffer | undefined): ({ owner: string; nonce: string; expires_at: string } & Record<string, unknown>) | undefined {
  if (!bytes) return undefined;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { owner?: unknown; nonce?: unknown; expires_at?: unknown };
    return typeof parsed.nonce === 'string' && typeof parsed.owner === 'string' && typeof parsed.expires_at === 'string'
      ? (parsed as { owner: string; nonce: string; expires_at: string } & Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof AppError) return `${error.name} (${error.code}): ${error.message}`;
  if (error instanceof Error) return `${error.stack ?? error.message}`;
  return String(error);
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
