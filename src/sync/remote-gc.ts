/**
 * Remote garbage collection (docs/design.md#history-trash-and-garbage-collection): deletes the snapshots and journal files that fell out of the
 * history window, and the blobs no kept row version names. Run by the lock holder, after its commit,
 * at most once per interval; everything it needs comes in (`GcInput`), so it knows nothing of the
 * local store or of the history table.
 *
 * Ages are judged by the server's clock (`serverTime()` against each entry's `modifiedAt`), never the
 * local one: a laptop whose clock is a day ahead must not see a fresh upload as a day old. An entry
 * the server gives no modification time is kept. Only names docsync writes are ever deleted.
 *
 * What history keeps (metadata): let `base` be the newest snapshot (`snapshots/` or a format-1
 * `metadata/*.db`, one series by version) older than the window start and not newer than the current
 * one: the state at the window's start. Kept: every snapshot and journal inside the window, `base`,
 * every journal after `base` (they lead from it to the window), whatever `current` names, anything
 * newer than the current snapshot, and anything without a modification time. Deleted: older
 * snapshots than `base`, and journals at or before the oldest kept snapshot, when older than the window.
 * A snapshot or journal of the current version (or newer) that `current` does not name is no `base`
 * and is kept: a switch frozen before it landed may still name it (a late switch, see late-switch.ts).
 */
import { RemoteAuthError, RemoteTimeoutError } from '../remote/errors.ts';
import { LockLostError } from '../remote/lock.ts';
import {
  isBlobShard,
  joinPath,
  parseBlobName,
  parseJournalName,
  parseSnapshotName,
  parseSnapshotV2Name,
  remotePaths,
} from '../remote/paths.ts';
import type { Remote, RemoteEntry } from '../remote/remote.ts';

export interface GcInput {
  /** What version.txt names now (remote paths): these are never deleted. */
  current: { snapshot: string; deltas: string[] };
  /** Whether a kept row version names this blob (current rows, tombstones and history within the window). */
  isReferenced(hash: string, fileType: string): boolean;
  /** Local time (ms), for the log only: every age is judged by the server's clock. */
  now: number;
  /** The history window (`DOCSYNC_HISTORY_DAYS`). */
  windowMs: number;
  /** A blob younger than this is never deleted: the upload of a sync in flight (`DOCSYNC_GC_GRACE_HOURS`). */
  graceMs: number;
  /** Report the same figures, delete nothing. */
  dryRun: boolean;
  /** Aborted when the lock is lost: no deletion starts after that (the GC throws the abort reason). */
  signal?: AbortSignal;
  /**
   * Reads the lock's owner file: whether this GC's lock is still held. Asked before each batch of
   * deletions (the old metadata files, each shard's blobs): a process frozen mid-GC whose lock expired
   * meanwhile hears of it from no renewal, and another holder may since have committed rows naming
   * blobs this GC judged unreferenced. Where a switch can land late, it also checks that version.txt
   * still names the head the GC judged by.
   */
  stillHolding?: () => Promise<boolean>;
  /** Shard folders worked on at once (default 4, like `DOCSYNC_TRANSFER_WORKERS`). */
  concurrency?: number;
}

export interface GcReport {
  blobs_deleted: number;
  /** Of everything deleted: blobs, snapshots and journals. */
  bytes_freed: number;
  journals_deleted: number;
  snapshots_deleted: number;
  blobs_kept: number;
  dry_run: boolean;
  /** Deletions or listings that failed; the rest went on. */
  errors: number;
}

/** After this many failures in a row the server is taken to be down and the GC stops. */
export const MAX_ERRORS_IN_A_ROW = 10;

interface MetadataFile {
  path: string;
  kind: 'snapshot' | 'journal';
  version: number;
  modifiedAt: number | undefined;
  size: number;
}

/** The series the metadata folders hold, and how each names its files. */
const METADATA_DIRS = [
  { dir: remotePaths.snapshotsDir, kind: 'snapshot', parse: parseSnapshotV2Name },
  { dir: remotePaths.metadataDir, kind: 'snapshot', parse: parseSnapshotName },
  { dir: remotePaths.journalDir, kind: 'journal', parse: parseJournalName },
] as const;

export async function collectRemoteGarbage(remote: Remote, input: GcInput, log: (message: string) => void = () => undefined): Promise<GcReport> {
  const run = new GcRun(remote, input, log);
  const serverNow = await remote.serverTime();
  log(`remote GC${input.dryRun ? ' (dry run)' : ''}: server time ${new Date(serverNow).toISOString()} (the local clock is ${input.now - serverNow} ms ahead of it)`);
  try {
    await run.metadata(serverNow);
    await run.blobs(serverNow);
  } catch (error) {
    log(`remote GC stopped: ${error instanceof Error ? error.message : String(error)} (so far: ${JSON.stringify(run.report)})`);
    throw error;
  }
  return run.report;
}

class GcRun {
  readonly report: GcReport;
  private errorsInARow = 0;

  constructor(
    private readonly remote: Remote,
    private readonly input: GcInput,
    private readonly log: (message: string) => void,
  ) {
    this.report = { blobs_deleted: 0, bytes_freed: 0, journals_deleted: 0, snapshots_deleted: 0, blobs_kept: 0, dry_run: input.dryRun, errors: 0 };
  }

  async metadata(serverNow: number): Promise<void> {
    const { current, windowMs } = this.input;
    const currentVersion = versionOf(current.snapshot);
    if (currentVersion === undefined) throw new Error(`not a snapshot path: ${current.snapshot}`);
    const named = new Set([current.snapshot, ...current.deltas]);
    const headVersion = Math.max(currentVersion, ...current.deltas.map((delta) => parseJournalName(delta)?.version ?? currentVersion));
    const files: MetadataFile[] = [];
    for (const { dir, kind, parse } of METADATA_DIRS) {
      for (const entry of (await this.list(dir)) ?? []) {
        const parsed = entry.isDirectory ? undefined : parse(entry.name);
        if (!parsed) {
          this.log(`remote GC: left alone an unknown entry ${joinPath(dir, entry.name)}`);
          continue;
        }
        files.push({ path: joinPath(dir, entry.name), kind, version: parsed.version, modifiedAt: entry.modifiedAt, size: entry.size });
      }
    }
    const windowStart = serverNow - windowMs;
    const old = (f: MetadataFile) => f.modifiedAt !== undefined && f.modifiedAt < windowStart;
    // Unnamed files of the head's version or newer are a sync's commit whose switch has not landed
    // (yet): one frozen right before it lands it late, after this GC, naming them. They are never
    // the base nor deleted; the next head past them lets them age out like any other.
    const settled = (f: MetadataFile) => named.has(f.path) || f.version < headVersion;
    const snapshots = files.filter((f) => f.kind === 'snapshot' && f.version <= currentVersion && settled(f));
    const base = Math.max(-1, ...snapshots.filter(old).map((f) => f.version));
    const keptSnapshots = snapshots.filter((f) => !old(f) || f.version >= base).map((f) => f.version);
    const floor = Math.min(currentVersion, ...keptSnapshots);
    const deletable = files.filter(
      (file) => !named.has(file.path) && old(file) && file.version <= currentVersion && settled(file) && (file.kind === 'snapshot' ? file.version < base : file.version <= floor),
    );
    if (deletable.length > 0) await this.confirmHolding();
    for (const file of deletable) {
      if (await this.delete(file.path)) {
        if (file.kind === 'snapshot') this.report.snapshots_deleted++;
        else this.report.journals_deleted++;
        this.report.bytes_freed += file.size;
      }
    }
  }

  /**
   * A few shard folders at a time: one listing per shard, and on a WebDAV server each costs a round
   * trip (3,000 blobs on nginx: 3.3 s for the 257 listings one after another, 0.8 s four at a time).
   * Every worker has stopped before this returns, so nothing is deleted after the caller releases
   * its lock.
   */
  async blobs(serverNow: number): Promise<void> {
    const shards = ((await this.list('')) ?? []).filter((e) => e.isDirectory && isBlobShard(e.name)).map((e) => e.name);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (!failure && next < shards.length) {
        const shard = shards[next++]!;
        await this.shard(shard, serverNow, () => failure !== undefined).catch((error: unknown) => {
          failure ??= { error };
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.input.concurrency ?? 4, shards.length) }, worker));
    if (failure) throw failure.error;
  }

  private async shard(shard: string, serverNow: number, stopped: () => boolean): Promise<void> {
    const { isReferenced, graceMs } = this.input;
    const doomed: { where: string; size: number }[] = [];
    for (const entry of (await this.list(shard)) ?? []) {
      const where = joinPath(shard, entry.name);
      const blob = entry.isDirectory ? undefined : parseBlobName(entry.name);
      if (!blob || !blob.hash.startsWith(shard)) {
        this.log(`remote GC: left alone an unknown entry ${where}`);
        continue;
      }
      // No modification time: its age is unknown, so it may be an upload in flight.
      const oldEnough = entry.modifiedAt !== undefined && serverNow - entry.modifiedAt >= graceMs;
      if (isReferenced(blob.hash, blob.ext) || !oldEnough) {
        this.report.blobs_kept++;
        continue;
      }
      doomed.push({ where, size: entry.size });
    }
    if (doomed.length === 0 || stopped()) return;
    await this.confirmHolding();
    for (const { where, size } of doomed) {
      if (stopped()) return;
      if (await this.delete(where)) {
        this.report.blobs_deleted++;
        this.report.bytes_freed += size;
      }
    }
  }

  /** Stops the GC (throws) when its lock is no longer held; see `GcInput.stillHolding`. */
  private async confirmHolding(): Promise<void> {
    if (this.input.dryRun || !this.input.stillHolding) return;
    this.input.signal?.throwIfAborted();
    if (!(await this.input.stillHolding())) throw new LockLostError();
  }

  /** Deletes (or, in a dry run, counts) one file; `false` when it was gone already or failed. */
  private async delete(path: string): Promise<boolean> {
    if (this.input.dryRun) return true;
    this.input.signal?.throwIfAborted();
    const deleted = await this.attempt(`delete ${path}`, () => this.remote.delete(path));
    // Only a deletion that worked shows the server is fine again (listings may work while deletes fail).
    if (deleted !== undefined) this.errorsInARow = 0;
    return deleted ?? false;
  }

  private list(path: string): Promise<RemoteEntry[] | undefined> {
    return this.attempt(`list ${path || '/'}`, () => this.remote.list(path));
  }

  /**
   * Runs one request: a failure is counted and the GC goes on, except where going on cannot help —
   * a server that stopped answering, credentials it refuses, or too many failures in a row.
   */
  private async attempt<T>(what: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof RemoteTimeoutError || error instanceof RemoteAuthError) throw error;
      this.report.errors++;
      this.log(`remote GC: could not ${what}: ${error instanceof Error ? error.message : String(error)}`);
      if (++this.errorsInARow >= MAX_ERRORS_IN_A_ROW) throw error;
      return undefined;
    }
  }
}

function versionOf(path: string): number | undefined {
  return (parseSnapshotV2Name(path) ?? parseSnapshotName(path))?.version;
}
