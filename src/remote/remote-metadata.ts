import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newStableId, type IdSource } from '../domain/ids.ts';
import { AppError } from '../errors.ts';
import { CONTROL_FILE_MAX_BYTES, SNAPSHOT_MAX_BYTES } from './bounded-read.ts';
import { PreconditionFailedError, RemoteCorruptError, RemoteUnavailableError } from './errors.ts';
import { parseSnapshotName, remotePaths } from './paths.ts';
import type { PutOptions, Remote } from './remote.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';
import { RemoteSnapshot } from './remote-snapshot.ts';
import { formatVersionFile, parseVersionFile, type VersionHead } from './version-file.ts';

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

/** How many snapshots to keep on the remote: restore points, and room for slow readers. */
export const KEEP_SNAPSHOTS = 5;

/**
 * The shared metadata on the remote (SPEC §2): `version.txt` names an immutable snapshot
 * `metadata/<version>-<commit>.db` and its sha256. A commit uploads a new snapshot under a new name and
 * only then switches `version.txt` to it, so the current snapshot is never missing or half-written.
 * `version.txt` is always read for its content: an unchanged ETag proves nothing (Nextcloud keeps
 * ETags across same-second rewrites).
 */
export class RemoteMetadataStore {
  constructor(
    private readonly remote: Remote,
    private readonly tmpDir: string,
    private readonly ids: IdSource,
    private readonly keep = KEEP_SNAPSHOTS,
    private readonly sleep: Sleep = realSleep,
    /** The largest snapshot accepted: a bigger one is cut off, never written to disk whole. */
    private readonly snapshotMaxBytes = SNAPSHOT_MAX_BYTES,
  ) {}

  /**
   * The current head, or `undefined` when there is no `version.txt` (only a 404 says so). An empty
   * or unreadable one is read again a few times first: sabre/dav and others serve a file being
   * rewritten as empty (or torn) for a moment, which is no reason to call the remote corrupt.
   */
  async readHead(): Promise<VersionHead | undefined> {
    for (let attempt = 0; ; attempt++) {
      const bytes = await this.remote.getBytes(remotePaths.versionFile, { maxBytes: CONTROL_FILE_MAX_BYTES });
      if (!bytes) return undefined;
      try {
        if (bytes.toString('utf8').trim() === '') throw new RemoteCorruptError(`version.txt is empty (read ${attempt + 1} times)`);
        return parseVersionFile(bytes.toString('utf8'));
      } catch (error) {
        if (!(error instanceof RemoteCorruptError) || attempt >= REREAD_DELAYS_MS.length) throw error;
        await this.sleep(REREAD_DELAYS_MS[attempt]!);
      }
    }
  }

  /** Downloads and verifies the snapshot `head` names; the caller closes it with `discard`. */
  async download(head: VersionHead): Promise<RemoteSnapshot> {
    for (let attempt = 1; ; attempt++) {
      const file = this.tempPath();
      // A read cut off (too large, stalled, broken) leaves no partial snapshot behind.
      const actual = await this.fetchTo(head.snapshot, file).catch(async (error: unknown) => {
        await fsp.rm(file, { force: true });
        throw error;
      });
      if (actual === head.sha256) return openOrRemove(file, head);
      await fsp.rm(file, { force: true });
      // A torn read (rclone during an overwrite) or a commit in between: look again before judging.
      const now = await this.readHead();
      if (!now || now.commit !== head.commit) throw new RemoteMovedError();
      if (attempt >= 2) {
        throw new RemoteCorruptError(
          actual === undefined
            ? `version.txt names ${head.snapshot}, which is missing on the remote`
            : `${head.snapshot} does not match the sha256 in version.txt`,
        );
      }
    }
  }

  /** An empty snapshot for a remote being initialised (nothing is written until `commit`). */
  async initialize(repoId: string): Promise<RemoteSnapshot> {
    await this.remote.mkdir('');
    return RemoteSnapshot.create(this.tempPath(), repoId);
  }

  /**
   * Publishes `snapshot` as the version after `base` (`undefined` for a new remote). Refuses with
   * `RemoteMovedError` if `version.txt` no longer says `base`. Closes the snapshot.
   *
   * The switch of `version.txt` is the one write that must never land late: a sync frozen (laptop
   * asleep, process stopped) between its last check and this PUT would otherwise overwrite a commit
   * made meanwhile by the next lock holder. Where the server honours it (`hooks.conditional`), the
   * PUT carries `If-Match` with the ETag of the `version.txt` it checked (`If-None-Match: *` on a new
   * remote), so a late switch fails with 412. Elsewhere the window is one request wide; a retried
   * switch looks again first (`beforeRetry`) so a retry never writes a version back.
   */
  async commit(
    snapshot: RemoteSnapshot,
    base: VersionHead | undefined,
    hooks: CommitHooks = {},
  ): Promise<VersionHead> {
    const current = await this.readHead();
    if (current?.commit !== base?.commit) throw new RemoteMovedError();
    const version = (base?.version ?? 0) + 1;
    const commit = newStableId(this.ids);
    snapshot.stamp(version, commit);
    const repo = snapshot.repoId;
    snapshot.close();
    const file = snapshot.path;
    const head: VersionHead = {
      version,
      commit,
      repo,
      snapshot: remotePaths.snapshot(version, commit),
      sha256: await sha256File(file),
    };
    await this.remote.mkdir(remotePaths.metadataDir);
    const size = (await fsp.stat(file)).size;
    await this.uploadConfirmed(head.snapshot, size, file);
    await hooks.beforeSwitch?.(head);
    await this.switchTo(head, base, hooks);
    await this.prune(head).catch(() => undefined);
    return head;
  }

  /** Moves `version.txt` from `base` to `head` (see `commit`). */
  private async switchTo(head: VersionHead, base: VersionHead | undefined, hooks: CommitHooks): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // A third try goes unconditional: a server that refuses even its own, strong ETag must not
      // stop every sync (the lost-commit recovery covers the one-request window that opens).
      const guard = attempt <= 2 ? await this.switchGuard(base, hooks.conditional) : {};
      // Once more, just before the switch: the head we built on must still be the current one.
      if ((await this.readHead())?.commit !== base?.commit) throw new RemoteMovedError();
      const beforeRetry = async (): Promise<'retry' | 'done'> => {
        const now = await this.readHead();
        if (now?.commit === head.commit) return 'done';
        if (now?.commit !== base?.commit) throw new RemoteMovedError();
        await hooks.beforeSwitch?.(head);
        return 'retry';
      };
      try {
        await this.remote.put(remotePaths.versionFile, Buffer.from(formatVersionFile(head)), { contentType: 'text/plain', ...guard, beforeRetry });
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
    const written = await this.readHead();
    if (written?.commit !== head.commit) throw new RemoteMovedError('Another instance switched version.txt at the same moment');
  }

  /** The precondition that makes the switch fail if `version.txt` changed since it was checked. */
  private async switchGuard(base: VersionHead | undefined, conditional: ConditionalWrites | undefined): Promise<PutOptions> {
    if (!base) return conditional?.ifNoneMatch ? { ifNoneMatch: '*' } : {};
    if (!conditional?.ifMatch) return {};
    const stat = await this.remote.stat(remotePaths.versionFile);
    if (!stat) throw new RemoteMovedError('version.txt disappeared during the sync');
    // A weak ETag (Apache, within a second of a write) in its strong form: what the server will call
    // it once that second is over — which a frozen sync's late switch always is.
    return stat.etag ? { ifMatch: strongEtag(stat.etag) } : {};
  }

  /**
   * Uploads a snapshot and checks it arrived whole (a server may acknowledge a PUT and lose it):
   * version.txt must never name a snapshot that is not there.
   */
  private async uploadConfirmed(remotePath: string, size: number, file: string): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      await this.remote.put(remotePath, { size, open: () => fs.createReadStream(file) });
      if ((await this.remote.stat(remotePath))?.size === size) return;
    }
    throw new RemoteUnavailableError(`The snapshot ${remotePath} did not arrive on the remote after two uploads`);
  }

  /** Closes a snapshot and removes its local file. */
  async discard(snapshot: RemoteSnapshot): Promise<void> {
    snapshot.close();
    await fsp.rm(snapshot.path, { force: true });
  }

  /** Deletes snapshots older than the last `keep` versions; never the current one or newer ones. */
  async prune(current: VersionHead): Promise<number> {
    const entries = (await this.remote.list(remotePaths.metadataDir)) ?? [];
    let removed = 0;
    for (const entry of entries) {
      const parsed = parseSnapshotName(entry.name);
      if (parsed && parsed.version <= current.version - this.keep) {
        if (await this.remote.delete(`${remotePaths.metadataDir}/${entry.name}`)) removed++;
      }
    }
    return removed;
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

  private tempPath(): string {
    fs.mkdirSync(this.tmpDir, { recursive: true });
    return path.join(this.tmpDir, `snapshot-${this.ids.bytes(8).toString('hex')}.db`);
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/** Opens a downloaded snapshot; a refused one (corrupt, too new) leaves no temp file behind. */
async function openOrRemove(file: string, head: VersionHead): Promise<RemoteSnapshot> {
  try {
    const snapshot = RemoteSnapshot.open(file);
    if (snapshot.repoId !== head.repo) {
      snapshot.close();
      throw new RemoteCorruptError(`${head.snapshot} belongs to repository ${snapshot.repoId}, not ${head.repo} as version.txt says`);
    }
    return snapshot;
  } catch (error) {
    await fsp.rm(file, { force: true });
    throw error;
  }
}
