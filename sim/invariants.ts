import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileRecord } from '../src/domain/file.ts';
import { isoUtc } from '../src/domain/clock.ts';
import { remotePaths } from '../src/remote/paths.ts';
import type { RemoteFileRow } from '../src/domain/shared-row.ts';
import { RemoteSnapshot } from '../src/remote/remote-snapshot.ts';
import { parseJournal } from '../src/remote/journal-file.ts';
import { deltaPath, parseVersionFile, snapshotPath, type VersionHead } from '../src/remote/version-file.ts';
import { shareable } from './model.ts';
import { peek } from './observer.ts';
import { SIM_FORMAT, type SimInstance, type World } from './world.ts';

/**
 * The invariants, checked on the world's true state (read past the fault injection):
 *
 * 1. Convergence: after the end phase every instance holds the same live files as the remote —
 *    same ids, byte-identical content (the local blob re-hashed), equal shareable metadata and
 *    timestamps — all `synced`, nothing pending, no conflict left. (Checked first with conflicts
 *    still open, excluding each instance's own conflicted files; see `World.quiesce`.)
 * 2. Nothing vanishes: every accepted change is in the history of a final state or was dropped by a
 *    resolution (`Model.check`); no final or remote state was made by no change.
 * 3. No resurrection: a file live at the end was not deleted, unless a resolution undid the deletion.
 * 4. One lock holder: every switch of `version.txt` is made by the instance whose nonce the lock
 *    owner file holds at that moment (checked on each switch, `World.observe`).
 * 5. Remote integrity: `version.txt` names a snapshot and deltas that exist and match their sha256s,
 *    each delta follows on from the one before, and every live row of the state they make names a blob that exists and matches its hash (checked on every switch and at
 *    the end). Tombstone rows are not checked: nothing needs their blob. On every switch, every row of
 *    the new snapshot must also be a state some change produced (part of invariant 2).
 *
 * 6. GC keeps what is needed: no live row of the remote state (5) and no non-deleted version inside
 *    the history window in any instance's history (`file_versions`, with the window rule of
 *    `HistoryRepository.namesBlob`: committed inside the window, or still the file's state when the
 *    window began) names a blob missing from the remote (checked on every switch and at the end;
 *    the window is the simulation's GC window, judged by the world's clock, which is also the
 *    memory remote's).
 *
 * Not checked: the local databases' internal counters, temp-file leftovers, blobs that nothing
 * references any more (local or remote garbage), snapshots other than the current one, and the lock
 * state left at the end.
 */
export interface Violation {
  invariant: string;
  step: number;
  message: string;
}

export function readHead(bytes: Buffer | undefined): VersionHead | undefined {
  if (!bytes) return undefined;
  try {
    return parseVersionFile(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A live row's blob that is not on the remote: its path, and its message among `problems`. */
export interface MissingBlob {
  path: string;
  message: string;
}

/**
 * The rows of the snapshot `version.txt` names, with the problems found on the way (invariant 5);
 * the missing blobs among them are also listed apart (`World.observe` defers those of a late switch).
 */
export function loadRemote(world: World): {
  head: VersionHead | undefined;
  rows: RemoteFileRow[];
  problems: string[];
  recentCommits: string[];
  missing: MissingBlob[];
} {
  const problems: string[] = [];
  const missing: MissingBlob[] = [];
  const bytes = peek(world.memory, remotePaths.versionFile);
  if (!bytes) return { head: undefined, rows: [], problems, recentCommits: [], missing };
  const head = readHead(bytes);
  if (!head) return { head, rows: [], problems: [`version.txt is not readable: ${JSON.stringify(bytes.toString('utf8').slice(0, 200))}`], recentCommits: [], missing };
  // The state version.txt describes: its snapshot, then the deltas after it, each verified.
  const snapshotAt = snapshotPath(head);
  const data = peek(world.memory, snapshotAt);
  if (!data) return { head, rows: [], problems: [`version.txt names ${snapshotAt}, which does not exist`], recentCommits: [], missing };
  if (sha256(data) !== head.snapshot.sha256) return { head, rows: [], problems: [`${snapshotAt} does not match the sha256 in version.txt`], recentCommits: [], missing };
  const file = path.join(world.root, 'check', `${head.commit}.db`);
  fs.writeFileSync(file, data);
  const byId = new Map<string, RemoteFileRow>();
  let recentCommits: string[] = head.recent;
  try {
    const snapshot = RemoteSnapshot.open(file);
    try {
      for (const row of snapshot.files()) byId.set(row.stable_id, row);
      if (head.format === 1) recentCommits = snapshot.recentCommits;
      if (snapshot.version !== head.snapshot.version) problems.push(`${snapshotAt} says version ${snapshot.version}, version.txt ${head.snapshot.version}`);
    } finally {
      snapshot.close();
    }
  } catch (error) {
    problems.push(`${snapshotAt} cannot be opened: ${(error as Error).message}`);
  } finally {
    fs.rmSync(file, { force: true });
  }
  let parent = { version: head.snapshot.version, commit: head.snapshot.commit };
  for (const delta of head.deltas.filter((d) => d.version > head.snapshot.version)) {
    const bytes = peek(world.memory, deltaPath(delta));
    if (!bytes || sha256(bytes) !== delta.sha256) {
      problems.push(`version.txt names ${deltaPath(delta)}, which is missing or does not match its sha256`);
      break;
    }
    try {
      const { journal, rejected } = parseJournal(bytes, { repo: head.repo, version: delta.version, commit: delta.commit });
      if (rejected.length > 0) problems.push(`${deltaPath(delta)} carries ${rejected.length} invalid row(s)`);
      if (journal.parent?.version !== parent.version || journal.parent.commit !== parent.commit) {
        problems.push(`${deltaPath(delta)} does not follow on from version ${parent.version}`);
      }
      for (const row of journal.rows) byId.set(row.stable_id, row);
    } catch (error) {
      problems.push(`${deltaPath(delta)} cannot be read: ${(error as Error).message}`);
    }
    parent = { version: delta.version, commit: delta.commit };
  }
  const rows = [...byId.values()];
  for (const row of rows) {
    if (row.deleted) continue;
    const blobPath = remotePaths.blob(row.hash, row.file_type);
    const blob = peek(world.memory, blobPath);
    if (!blob) {
      const message = `row ${row.stable_id} (${row.filename}, v${row.version}) names blob ${row.hash.slice(0, 12)}….${row.file_type}, which does not exist`;
      problems.push(message);
      missing.push({ path: blobPath, message });
    } else if (sha256(blob) !== row.hash) problems.push(`row ${row.stable_id} names blob ${row.hash.slice(0, 12)}…, whose content does not match`);
  }
  return { head, rows, problems, recentCommits, missing };
}

/** Local row and remote row agree on everything shareable. */
function sameRow(local: FileRecord, remote: RemoteFileRow): boolean {
  return (
    shareable(local) === shareable(remote) &&
    local.created_at === remote.created_at &&
    local.updated_at === remote.updated_at
  );
}

/**
 * Invariant 1. With `excludeConflicted`, an instance's own conflicted files are left out (it keeps
 * its side of them until a person resolves them); everything else must agree with the remote.
 */
export async function checkConvergence(world: World, excludeConflicted: boolean): Promise<Violation[]> {
  const violations: Violation[] = [];
  const fail = (message: string): void => void violations.push({ invariant: '1', step: world.step, message });
  const { rows, problems } = loadRemote(world);
  if (problems.length > 0) return problems.map((message) => ({ invariant: '5', step: world.step, message }));
  const remoteLive = new Map(rows.filter((r) => !r.deleted).map((r) => [r.stable_id, r]));
  for (const instance of world.instances) {
    const all = listAll(instance);
    const conflicted = new Set(all.filter((f) => f.sync_status === 'conflict').map((f) => f.stable_id as string));
    if (!excludeConflicted && conflicted.size > 0) fail(`${instance.name} still has ${conflicted.size} conflict(s)`);
    const live = new Map(all.filter((f) => !f.deleted).map((f) => [f.stable_id as string, f]));
    for (const [id, remote] of remoteLive) {
      if (conflicted.has(id)) continue;
      const local = live.get(id);
      if (!local) {
        const row = all.find((f) => f.stable_id === id);
        fail(`${instance.name} lacks live file ${id} (${remote.filename}) that the remote has${row ? ` — its row: deleted=${row.deleted} status=${row.sync_status}` : ''}`);
      } else if (!sameRow(local, remote)) {
        fail(`${instance.name} holds ${id} differently from the remote:\n      local  ${shareable(local)} ${local.updated_at} ${local.sync_status}\n      remote ${shareable(remote)} ${remote.updated_at} v${remote.version}`);
      } else if (local.sync_status !== 'synced') {
        fail(`${instance.name} holds ${id} as the remote does, but with status ${local.sync_status}`);
      }
    }
    for (const [id, local] of live) {
      if (conflicted.has(id) || remoteLive.has(id)) continue;
      const remote = rows.find((r) => r.stable_id === id);
      fail(`${instance.name} has live file ${id} (${local.filename}, ${local.sync_status}) that the remote ${remote ? 'has as a tombstone' : 'never got'}`);
    }
    for (const file of live.values()) {
      if (conflicted.has(file.stable_id)) continue;
      let content: Buffer;
      try {
        content = await world.readBlob(instance, file);
      } catch (error) {
        fail(`${instance.name}: the content of ${file.stable_id} is missing locally (${(error as NodeJS.ErrnoException).code ?? error})`);
        continue;
      }
      if (sha256(content) !== file.hash || content.length !== file.size) {
        fail(`${instance.name}: the local content of ${file.stable_id} does not match its hash/size`);
      }
    }
    if (!excludeConflicted && instance.docsync.fileRepository.pendingCount() > 0) {
      fail(`${instance.name} still has ${instance.docsync.fileRepository.pendingCount()} change(s) to push`);
    }
  }
  return violations;
}

/** Everything, at the very end: 5, 1 (full), 6, 2 and 3. */
export async function checkFinal(world: World): Promise<Violation[]> {
  const { head, rows, problems } = loadRemote(world);
  if (problems.length > 0) return problems.map((message) => ({ invariant: '5', step: world.step, message }));
  // A run from a format-1 remote: the syncs converted it.
  if (head && head.format !== 2) return [{ invariant: '5', step: world.step, message: `version.txt is still format ${head.format} at the end` }];
  // Without convergence the model check may also complain (a change not pushed yet): both are
  // reported, convergence first.
  const violations = await checkConvergence(world, false);
  for (const message of checkHistoryBlobs(world)) violations.push({ invariant: '6', step: world.step, message });
  const onRemote = new Set(rows.map((r) => r.stable_id));
  const localOnly: FileRecord[] = [];
  for (const instance of world.instances) {
    for (const row of listAll(instance)) if (!onRemote.has(row.stable_id)) localOnly.push(row);
  }
  return [...violations, ...world.model.check(rows, localOnly).map((p) => ({ ...p, step: world.step }))];
}

function listAll(instance: SimInstance): FileRecord[] {
  return instance.docsync.files.list({ limit: 1_000_000, includeDeleted: true }).files;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Invariant 6: every blob a version inside the history window names, in any live instance's history,
 * is on the remote (the remote's live rows are invariant 5's). The window rule is `namesBlob`'s —
 * committed inside the window, or no later version committed before the window began — but judged on
 * what all instances' histories know together: an instance that has not pulled a file's later version
 * yet still holds the older one as current, and the GC (which only runs in step) rightly let it go.
 */
export function checkHistoryBlobs(world: World): string[] {
  const gc = world.options.format?.gc ?? SIM_FORMAT.gc;
  if (gc === false) return [];
  const since = isoUtc(world.clock.now() - gc.windowMs);
  type Version = { stable_id: string; version: number; hash: string; file_type: string; deleted: number; committed_at: string };
  const held = new Map<SimInstance, Version[]>();
  // The earliest commit time known of each later version: (stable_id) -> versions committed before `since`.
  const replacedBefore = new Map<string, number>();
  for (const instance of world.instances) {
    if (instance.inc.dead) continue;
    const versions = instance.docsync.db
      .prepare<[], Version>('SELECT stable_id, version, hash, file_type, deleted, committed_at FROM file_versions')
      .all();
    held.set(instance, versions);
    for (const v of versions) {
      // The highest version of each file committed before the window began.
      if (v.committed_at < since) replacedBefore.set(v.stable_id, Math.max(replacedBefore.get(v.stable_id) ?? 0, v.version));
    }
  }
  const problems: string[] = [];
  for (const [instance, versions] of held) {
    for (const v of versions) {
      if (v.deleted) continue;
      const inWindow = v.committed_at >= since || (replacedBefore.get(v.stable_id) ?? 0) <= v.version;
      if (!inWindow || peek(world.memory, remotePaths.blob(v.hash, v.file_type))) continue;
      problems.push(
        `${instance.name}'s history names blob ${v.hash.slice(0, 12)}….${v.file_type} (${v.stable_id} v${v.version}, committed ${v.committed_at}, window from ${since}), which is not on the remote`,
      );
    }
  }
  return problems;
}
