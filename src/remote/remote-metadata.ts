import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newStableId, type IdSource } from '../domain/ids.ts';
import { AppError } from '../errors.ts';
import { CONTROL_FILE_MAX_BYTES, SNAPSHOT_MAX_BYTES } from './bounded-read.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import { formatJournal, parseJournal, type Journal } from './journal-file.ts';
import { ParentMissingError, PreconditionFailedError, RemoteCorruptError, RemoteTimeoutError, RemoteUnavailableError } from './errors.ts';
import { parentPath, remotePaths } from './paths.ts';
import type { PutOptions, Remote } from './remote.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';
import { RECENT_COMMITS, RemoteSnapshot } from './remote-snapshot.ts';
import {
  commitAt,
  deltaPath,
  deltasAfter,
  formatVersionFile,
  parseVersionFile,
  snapshotPath,
  type ChainFile,
  type VersionHead,
} from './version-file.ts';

/** The remote's version moved under us (another instance committed): sync again from the new state. */
export class RemoteMovedError extends AppError {
  constructor(message = 'The remote changed while this sync was running') {
    super('remote_moved', message, 409, true);
  }
}

/** Which preconditions the server honours on `version.txt` (from the capability probe). */
export interface ConditionalWrites {
  /** `If-Match` with a stale ETag is refused, and ETags change on every write. */
  ifMatch: boolean;
  /** `If-None-Match: *` on an existing file is refused. */
  ifNoneMatch: boolean;
}

export interface CommitHooks {
  /** Runs right before `version.txt` moves (and before a retry of that write): throw to stop. */
  beforeSwitch?: (head: VersionHead) => unknown;
  /** What to guard the switch with; none when absent. */
  conditional?: ConditionalWrites;
}

/** How long Apache keeps the ETag of a file just written weak (it is strong a second after the write). */
export const WEAK_ETAG_MS = 1100;

/** `W/"x"` → `"x"`; a strong ETag as it is. */
export function strongEtag(etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag;
}

/** Pauses before reading an empty or torn `version.txt` again (a rewrite in progress takes milliseconds). */
const REREAD_DELAYS_MS = [50, 150, 400];

/** A compaction is due once this many deltas follow the snapshot (version.txt stays small). */
export const MAX_DELTAS = 64;
/** A commit of more rows than this is published as a snapshot only, without a delta. */
export const MAX_DELTA_ROWS = 100_000;
/** A compacting commit's own delta larger than this is not published (its snapshot says it all). */
export const MAX_DELTA_BESIDE_SNAPSHOT = 16 * 1024 * 1024;
/** Deltas read for history only (from before the snapshot a new instance starts from) up to this size. */
const EARLIER_DELTA_MAX_BYTES = 1024 * 1024;
/** Deltas kept listed after a compaction, so a reader a few versions behind still needs no snapshot. */
export const DELTAS_KEPT_AFTER_COMPACTION = 16;

/** How a state was brought to the remote's head. */
export interface CaughtUp {
  state: RemoteSnapshot;
  /** The deltas applied, oldest first (their rows are history). */
  journals: Journal[];
  /**
   * Starting from a snapshot: the small deltas version.txt still lists from before it, read for
   * the file history only (a new instance sees the last commits' versions too).
   */
  earlier: Journal[];
  /**
   * The earlier versions the applied deltas replaced, as this state held them: an instance that
   * started from a snapshot has not seen them committed, yet they are history (a file's state at the
   * start of the history window, say).
   */
  replaced: RemoteFileRow[];
  via: 'current' | 'deltas' | 'snapshot';
}

/** Who makes a commit, and whether to compact. */
export interface CommitInfo {
  repo: string;
  instance: string;
  committedAt: string;
  /** Write a snapshot with this commit: always for a new or migrated remote; else when due. */
  compact?: boolean;
  /** Every shard folder is known to exist (`VersionHead.allShards`); absent: as the base said. */
  allShards?: boolean;
}

/**
 * The shared metadata on the remote, format 2 (docs/design.md#remote-layout-format-2): `version.txt` names a compacted snapshot
 * and the deltas after it, each with its sha256. Every file but `version.txt` is written once under a
 * new name. A reader keeps its own copy of the shared state (the *state* file, in its data dir) and
 * moves it forward by the deltas it lacks: a sync costs what changed, not the number of files. A
 * commit uploads its delta (and, when due, a snapshot written from the state it already holds) and
 * only then switches `version.txt`. `version.txt` is always read for its content: an unchanged ETag
 * proves nothing (Nextcloud keeps ETags across same-second rewrites).
 */
export class RemoteMetadataStore {
  /** The ETag that came with the last `version.txt` read, and the commit it said. */
  private readEtag: { commit: string; etag: string } | undefined;

  constructor(
    private readonly remote: Remote,
    private readonly tmpDir: string,
    private readonly ids: IdSource,
    private readonly sleep: Sleep = realSleep,
    /** The largest snapshot or delta accepted: a bigger one is cut off, never written to disk whole. */
    private readonly snapshotMaxBytes = SNAPSHOT_MAX_BYTES,
    /** Compact once this many deltas follow the snapshot. */
    private readonly maxDeltas = MAX_DELTAS,
  ) {}

  /**
   * The current head, or `undefined` when there is no `version.txt` (only a 404 says so). An empty
   * or unreadable one is read again a few times first: sabre/dav and others serve a file being
   * rewritten as empty (or torn) for a moment, which is no reason to call the remote corrupt.
   */
  async readHead(): Promise<VersionHead | undefined> {
    for (let attempt = 0; ; attempt++) {
      let etag: string | undefined;
      const bytes = await this.remote.getBytes(remotePaths.versionFile, { maxBytes: CONTROL_FILE_MAX_BYTES, onEtag: (e) => (etag = e) });
      if (!bytes) return undefined;
      try {
        if (bytes.toString('utf8').trim() === '') throw new RemoteCorruptError(`version.txt is empty (read ${attempt + 1} times)`);
        const head = parseVersionFile(bytes.toString('utf8'));
        this.readEtag = etag === undefined ? undefined : { commit: head.commit, etag };
        return head;
      } catch (error) {
        if (!(error instanceof RemoteCorruptError) || attempt >= REREAD_DELAYS_MS.length) throw error;
        await this.sleep(REREAD_DELAYS_MS[attempt]!);
      }
    }
  }

  /**
   * Opens the state kept at `statePath` and brings it to `head`: nothing to do when it is there;
   * only the deltas it lacks when `head` lists them all and agrees with the commits the state saw;
   * otherwise (new instance, too far behind, history rewritten, format 1) the snapshot, then the
   * deltas after it. The state is replaced only once the new one is complete and verified.
   */
  async catchUp(statePath: string, head: VersionHead): Promise<CaughtUp> {
    const kept = openState(statePath);
    if (kept) {
      const agrees =
        kept.format === 2 && kept.repoId === head.repo && kept.version <= head.version && commitAt(head, kept.version) === kept.commit;
      const deltas = agrees ? deltasAfter(head, kept.version) : undefined;
      if (deltas?.length === 0) {
        kept.stamp(head.version, head.commit, head.recent);
        return { state: kept, journals: [], earlier: [], replaced: [], via: 'current' };
      }
      if (deltas) {
        try {
          const replaced: RemoteFileRow[] = [];
          const journals = await this.applyDeltas(kept, head, deltas, replaced);
          return { state: kept, journals, earlier: [], replaced, via: 'deltas' };
        } catch (error) {
          kept.close();
          // A delta that does not follow on from this state (a rewritten history): start over below.
          if (!(error instanceof ChainBrokenError)) throw error;
        }
      } else {
        kept.close();
      }
    }
    const file = this.tempPath('state');
    let state: RemoteSnapshot | undefined;
    try {
      state = await this.downloadSnapshot(head, file);
      const replaced: RemoteFileRow[] = [];
      const journals = await this.applyDeltas(state, head, head.deltas.filter((d) => d.version > head.snapshot.version), replaced);
      state.setFormat2();
      if (head.format === 2) state.stamp(head.version, head.commit, head.recent);
      else state.stamp(head.version, head.commit);
      state.close();
      await fsp.rename(file, statePath);
      const opened = RemoteSnapshot.open(statePath);
      for (const [id, row] of state.rejected) opened.rejected.set(id, row);
      return { state: opened, journals, earlier: await this.readEarlier(head), replaced, via: 'snapshot' };
    } catch (error) {
      state?.close();
      await fsp.rm(file, { force: true });
      throw error;
    }
  }

  /** A new, empty state for a remote being initialised (nothing is written until `commit`). */
  async initialize(statePath: string, repoId: string): Promise<RemoteSnapshot> {
    await this.remote.mkdir('');
    await fsp.rm(statePath, { force: true });
    return RemoteSnapshot.create(statePath, repoId);
  }

  /**
   * Publishes `rows` (stamped with the new version) as the commit after `base` (`undefined` for a
   * new remote): its delta, a snapshot when due, then the switch of `version.txt`; then moves
   * `state` forward by it. Refuses with `RemoteMovedError` if `version.txt` no longer says `base`.
   *
   * The switch of `version.txt` is the one write that must never land late: a sync frozen (laptop
   * asleep, process stopped) between its last check and this PUT would otherwise overwrite a commit
   * made meanwhile by the next lock holder. Where the server honours it (`hooks.conditional`), the
   * PUT carries `If-Match` with the ETag of the `version.txt` it checked (`If-None-Match: *` on a new
   * remote), so a late switch fails with 412. Elsewhere the window is one request wide; a retried
   * switch looks again first (`beforeRetry`) so a retry never writes a version back.
   */
  async commit(
    state: RemoteSnapshot,
    rows: readonly RemoteFileRow[],
    base: VersionHead | undefined,
    info: CommitInfo,
    hooks: CommitHooks = {},
  ): Promise<{ head: VersionHead; journal: Journal; replaced: RemoteFileRow[] }> {
    // `base` was read under the lock moments ago; the switch checks it again (or is conditional).
    const version = (base?.version ?? 0) + 1;
    const commit = newStableId(this.ids);
    // A new repository over an old head (`--reinitialize`) starts a chain of its own: no parent, and
    // no delta, snapshot or commit id of the old repository listed in its version.txt.
    const chained = base?.repo === info.repo ? base : undefined;
    const journal: Journal = {
      repo: info.repo,
      version,
      commit,
      parent: chained && { version: chained.version, commit: chained.commit },
      instance: info.instance,
      committed_at: info.committedAt,
      rows: rows.map((row) => ({ ...row, version })),
    };
    // A commit of very many rows (a first import) is published as a snapshot alone: its delta would
    // be one JSON text of ~450 B a row (a V8 string ends at 512 MB), useful to no reader.
    const huge = rows.length > MAX_DELTA_ROWS;
    const bytes = huge ? Buffer.alloc(0) : formatJournal(journal);
    const delta: ChainFile = { version, commit, size: bytes.length, sha256: sha256(bytes) };
    const compact = info.compact || huge || chained?.format !== 2 || compactionDue(chained, bytes.length, this.maxDeltas);
    // A large delta next to its own snapshot would be downloaded by no one either.
    const publishDelta = !huge && (!compact || bytes.length <= MAX_DELTA_BESIDE_SNAPSHOT);
    if (publishDelta) await this.putCreatingParent(deltaPath(delta), bytes);
    const recent = [...(chained?.format === 2 ? chained.recent : state.recentCommits), commit].slice(-RECENT_COMMITS);
    // A format-2 base names a snapshot in `snapshots/`: the folder is there (no MKCOL to ask).
    const snapshot = compact ? await this.publishSnapshot(state, journal, recent, chained?.format === 2) : chained.snapshot;
    const listed = publishDelta ? [...(chained?.format === 2 ? chained.deltas : []), delta] : [];
    const head: VersionHead = {
      format: 2,
      version,
      commit,
      repo: info.repo,
      snapshot,
      // After a compaction, the last few deltas stay listed for readers a few versions behind.
      deltas: compact ? listed.slice(-DELTAS_KEPT_AFTER_COMPACTION) : listed,
      recent,
      ...((info.allShards ?? chained?.allShards) && { allShards: true }),
    };
    await hooks.beforeSwitch?.(head);
    await this.switchTo(head, base, hooks);
    const replaced = state.apply(version, commit, journal.rows, recent);
    return { head, journal, replaced };
  }

  /**
   * Publishes `file` (a complete shared state at version `head.version + 1`, rows and meta already
   * stamped) as a snapshot-only commit: for tests and tools that must write a state as it is.
   */
  async commitSnapshotFile(file: string, base: VersionHead, commit: string): Promise<VersionHead> {
    const bytes = await fsp.readFile(file);
    const version = base.version + 1;
    const snapshot: ChainFile = { version, commit, size: bytes.length, sha256: sha256(bytes) };
    await this.putCreatingParent(remotePaths.snapshotV2(version, commit), bytes);
    const recent = [...base.recent, commit].slice(-RECENT_COMMITS);
    const head: VersionHead = { format: 2, version, commit, repo: base.repo, snapshot, deltas: [], recent, ...(base.allShards && { allShards: true }) };
    await this.switchTo(head, base, {});
    return head;
  }

  /**
   * Writes the state after `journal` as a snapshot, from the state this instance already holds (no
   * download), and uploads it under its new name, confirmed.
   */
  private async publishSnapshot(state: RemoteSnapshot, journal: Journal, recent: string[], folderKnown: boolean): Promise<ChainFile> {
    const file = this.tempPath('snapshot');
    try {
      state.copyTo(file);
      const copy = RemoteSnapshot.open(file);
      try {
        copy.setFormat2();
        copy.apply(journal.version, journal.commit, journal.rows, recent);
      } finally {
        copy.close();
      }
      const size = (await fsp.stat(file)).size;
      const path = remotePaths.snapshotV2(journal.version, journal.commit);
      // Made first when not known to be there: a PUT refused for a missing folder sends its whole
      // body first, and a snapshot may be large.
      if (!folderKnown) await this.remote.mkdir(remotePaths.snapshotsDir);
      await this.uploadConfirmed(path, size, file);
      return { version: journal.version, commit: journal.commit, size, sha256: await sha256File(file) };
    } finally {
      await fsp.rm(file, { force: true });
    }
  }

  /** The small listed deltas up to the snapshot, for history; one that cannot be read is skipped. */
  private async readEarlier(head: VersionHead): Promise<Journal[]> {
    const journals: Journal[] = [];
    for (const delta of head.deltas) {
      if (delta.version > head.snapshot.version || (delta.size ?? 0) > EARLIER_DELTA_MAX_BYTES) continue;
      try {
        const bytes = await this.remote.getBytes(deltaPath(delta), { maxBytes: EARLIER_DELTA_MAX_BYTES });
        if (bytes && sha256(bytes) === delta.sha256) {
          journals.push(parseJournal(bytes, { repo: head.repo, version: delta.version, commit: delta.commit }).journal);
        }
      } catch (error) {
        if (error instanceof RemoteTimeoutError) throw error;
        // History is a convenience here: an unreadable old delta does not stop the sync.
      }
    }
    return journals;
  }

  /** Downloads, verifies and applies `deltas` to `state`, in order; returns them. */
  private async applyDeltas(state: RemoteSnapshot, head: VersionHead, deltas: ChainFile[], replaced: RemoteFileRow[]): Promise<Journal[]> {
    const journals: Journal[] = [];
    for (const delta of deltas) {
      const bytes = await this.fetchVerified(deltaPath(delta), delta, head);
      const { journal, rejected } = parseJournal(bytes, { repo: head.repo, version: delta.version, commit: delta.commit });
      if (journal.parent?.version !== state.version || journal.parent.commit !== state.commit) {
        throw new ChainBrokenError(`The delta of version ${delta.version} does not follow on from version ${state.version}: it names another parent`);
      }
      const recent = delta.version === head.version && head.format === 2 ? head.recent : undefined;
      replaced.push(...state.apply(delta.version, delta.commit, journal.rows, recent));
      state.noteRejected(rejected);
      journals.push(journal);
    }
    return journals;
  }

  /** A listed file's bytes, checked against its sha256; a mismatch is looked at twice before judging. */
  private async fetchVerified(path: string, listed: ChainFile, head: VersionHead): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      const bytes = await this.remote.getBytes(path, { maxBytes: this.snapshotMaxBytes });
      if (bytes && sha256(bytes) === listed.sha256) return bytes;
      await this.judgeMismatch(head, attempt, bytes ? `${path} does not match the sha256 in version.txt` : `version.txt names ${path}, which is missing on the remote`);
    }
  }

  /** A torn read (rclone during an overwrite) or a commit in between: look again before judging. */
  private async judgeMismatch(head: VersionHead, attempt: number, problem: string): Promise<void> {
    const now = await this.readHead();
    if (!now || now.commit !== head.commit) throw new RemoteMovedError();
    if (attempt >= 2) throw new RemoteCorruptError(problem);
  }

  /** Downloads and verifies the snapshot `head` names into `file`, opened. */
  private async downloadSnapshot(head: VersionHead, file: string): Promise<RemoteSnapshot> {
    const path = snapshotPath(head);
    for (let attempt = 1; ; attempt++) {
      // A read cut off (too large, stalled, broken) leaves no partial snapshot behind.
      const actual = await this.fetchTo(path, file).catch(async (error: unknown) => {
        await fsp.rm(file, { force: true });
        throw error;
      });
      if (actual === head.snapshot.sha256) return openOrRemove(file, path, head.repo);
      await fsp.rm(file, { force: true });
      await this.judgeMismatch(
        head,
        attempt,
        actual === undefined ? `version.txt names ${path}, which is missing on the remote` : `${path} does not match the sha256 in version.txt`,
      );
    }
  }

  /** A PUT into a folder that may not exist yet: created only when the PUT says it is missing. */
  private async putCreatingParent(path: string, bytes: Buffer): Promise<void> {
    try {
      await this.remote.put(path, bytes);
    } catch (error) {
      if (!(error instanceof ParentMissingError)) throw error;
      await this.remote.mkdir(parentPath(path));
      await this.remote.put(path, bytes);
    }
    // Where the server's answer is not proof, look (a server may acknowledge a PUT and lose it).
    if (!this.remote.putAnswerConfirms && (await this.remote.stat(path))?.size !== bytes.length) {
      throw new RemoteUnavailableError(`${path} did not arrive on the remote`);
    }
  }

  /** Moves `version.txt` from `base` to `head` (see `commit`). */
  private async switchTo(head: VersionHead, base: VersionHead | undefined, hooks: CommitHooks): Promise<void> {
    let guarded = false;
    for (let attempt = 1; ; attempt++) {
      // A third try goes unconditional: a server that refuses even its own, strong ETag must not
      // stop every sync (the lost-commit recovery covers the one-request window that opens).
      const { guard, checked } = attempt <= 2 ? await this.switchGuard(base, hooks.conditional) : { guard: {}, checked: false };
      // Once more, just before the switch: the head we built on must still be the current one
      // (unless the guard is the ETag that came with base's own bytes: then the PUT itself checks).
      if (!checked && (await this.readHead())?.commit !== base?.commit) throw new RemoteMovedError();
      const beforeRetry = async (): Promise<'retry' | 'done'> => {
        const now = await this.readHead();
        if (now?.commit === head.commit) return 'done';
        if (now?.commit !== base?.commit) throw new RemoteMovedError();
        await hooks.beforeSwitch?.(head);
        return 'retry';
      };
      try {
        await this.remote.put(remotePaths.versionFile, Buffer.from(formatVersionFile(head)), { contentType: 'text/plain', ...guard, beforeRetry });
        guarded = guard.ifMatch !== undefined || guard.ifNoneMatch !== undefined;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        // 412: another commit landed since the check — or our own first try did, its answer lost.
        const now = await this.readHead();
        if (now?.commit === head.commit) break;
        if (now?.commit !== base?.commit || attempt >= 3) {
          throw new RemoteMovedError('Another instance committed first; this commit was not published');
        }
        // Still our base, yet refused: Apache calls the ETag of a file written in the last second
        // weak, and If-Match never matches a weak ETag. Once that second is over it is strong.
        if (attempt === 1) await this.sleep(WEAK_ETAG_MS);
        await hooks.beforeSwitch?.(head);
        continue;
      }
      break;
    }
    // A switch the server let through on its precondition replaced exactly our base; where the
    // server's answer to a PUT is proof that it stored it (measured on the WebDAV servers), there is
    // no need to look. Elsewhere (a write may be acknowledged and lost) read it back.
    if (guarded && this.remote.putAnswerConfirms) return;
    const written = await this.readHead();
    if (written?.commit !== head.commit) throw new RemoteMovedError('Another instance switched version.txt at the same moment');
  }

  /**
   * The precondition that makes the switch fail if `version.txt` changed since it was checked;
   * `checked` when it is the ETag that came with the bytes that said `base` (one answer): then the
   * PUT is refused unless version.txt is still exactly that, and no read before it is needed.
   */
  private async switchGuard(
    base: VersionHead | undefined,
    conditional: ConditionalWrites | undefined,
  ): Promise<{ guard: PutOptions; checked: boolean }> {
    if (!base) return { guard: conditional?.ifNoneMatch ? { ifNoneMatch: '*' } : {}, checked: false };
    if (!conditional?.ifMatch) return { guard: {}, checked: false };
    // A weak ETag (Apache, within a second of a write) in its strong form: what the server will call
    // it once that second is over — which a frozen sync's late switch always is.
    if (this.readEtag?.commit === base.commit) return { guard: { ifMatch: strongEtag(this.readEtag.etag) }, checked: true };
    const stat = await this.remote.stat(remotePaths.versionFile);
    if (!stat) throw new RemoteMovedError('version.txt disappeared during the sync');
    return { guard: stat.etag ? { ifMatch: strongEtag(stat.etag) } : {}, checked: false };
  }

  /**
   * Uploads a snapshot and checks it arrived whole (a server may acknowledge a PUT and lose it):
   * version.txt must never name a snapshot that is not there.
   */
  private async uploadConfirmed(remotePath: string, size: number, file: string): Promise<void> {
    const body = { size, open: () => fs.createReadStream(file) };
    for (let attempt = 1; attempt <= 2; attempt++) {
      await this.remote.put(remotePath, body).catch(async (error: unknown) => {
        // The folder was removed by hand: make it again.
        if (!(error instanceof ParentMissingError)) throw error;
        await this.remote.mkdir(parentPath(remotePath));
        await this.remote.put(remotePath, body);
      });
      if ((await this.remote.stat(remotePath))?.size === size) return;
    }
    throw new RemoteUnavailableError(`The snapshot ${remotePath} did not arrive on the remote after two uploads`);
  }

  /** Streams a remote file into `file`, returning its sha256, or undefined when it is absent. */
  private async fetchTo(remotePath: string, file: string): Promise<string | undefined> {
    const stream = await this.remote.get(remotePath, { maxBytes: this.snapshotMaxBytes });
    if (!stream) return undefined;
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(stream, tap, fs.createWriteStream(file));
    return hash.digest('hex');
  }

  private tempPath(kind: string): string {
    fs.mkdirSync(this.tmpDir, { recursive: true });
    return path.join(this.tmpDir, `${kind}-${this.ids.bytes(8).toString('hex')}.db`);
  }
}

/**
 * A delta that does not follow on from the state it would be applied to: a kept state starts over
 * from the snapshot; after the snapshot, the remote is corrupt (a clear error, never a 500).
 */
class ChainBrokenError extends RemoteCorruptError {}

/**
 * Whether the deltas after the snapshot (with the next one, of `nextBytes`) are many enough, or
 * large enough, to fold into a new snapshot.
 */
export function compactionDue(head: VersionHead, nextBytes = 0, maxDeltas = MAX_DELTAS): boolean {
  const after = head.deltas.filter((d) => d.version > head.snapshot.version);
  const bytes = after.reduce((sum, d) => sum + (d.size ?? 0), nextBytes);
  // Past half the snapshot's size, a new reader pays more for the deltas than for a new snapshot.
  return after.length + 1 >= maxDeltas || (head.snapshot.size !== undefined && bytes * 2 > head.snapshot.size && bytes > 64 * 1024);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Opens the kept state, or undefined when there is none or it is unreadable (then it is rebuilt). */
function openState(statePath: string): RemoteSnapshot | undefined {
  if (!fs.existsSync(statePath)) return undefined;
  try {
    return RemoteSnapshot.open(statePath);
  } catch {
    fs.rmSync(statePath, { force: true });
    return undefined;
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/** Opens a downloaded snapshot; a refused one (corrupt, too new) leaves no temp file behind. */
async function openOrRemove(file: string, remotePath: string, repo: string): Promise<RemoteSnapshot> {
  try {
    const snapshot = RemoteSnapshot.open(file);
    if (snapshot.repoId !== repo) {
      snapshot.close();
      throw new RemoteCorruptError(`${remotePath} belongs to repository ${snapshot.repoId}, not ${repo} as version.txt says`);
    }
    return snapshot;
  } catch (error) {
    await fsp.rm(file, { force: true });
    throw error;
  }
}
