import type { FileRecord } from '../src/domain/file.ts';
import type { RemoteFileRow } from '../src/domain/shared-row.ts';

/**
 * What the simulation knows about every change a person made (invariants 2 and 3).
 *
 * Every accepted local change gets a number. The generator makes every change produce a state
 * nobody else can produce: a content edit writes bytes that carry the change number, a create or a
 * metadata edit sets `metadata.rev` to it. So the triple (stable_id, hash, metadata.rev, deleted) —
 * the state "key" — names the change that made a row state, and the model keeps for each key its
 * causal history: the set of changes that state includes (the change itself plus the history of the
 * state it was made on). A pulled row is a pushed row, so its key, and history, are known too.
 *
 * Conflict resolutions are the one place where a person may drop changes on purpose: the model
 * records what each resolution dropped (`local_wins` drops what only the remote side had,
 * `remote_wins` what only the local side had, `keep_both` nothing — the copy carries the local side).
 * A remote tombstone stands for every deletion merged into it (an instance that deletes a file the
 * remote has deleted too only marks its own deletion synced, at that tombstone's version): a
 * resolution that drops a remote tombstone drops every deletion that reached the remote as that
 * tombstone, before or after the resolution (`attributeDeletion`, fed after every sync).
 *
 * At the end, a change is accounted for when it is in the history of a final state (present, or
 * superseded by a later change made on top of it), or the file is deleted at the end and the change
 * is in the history of one of its deletions (deleted by a later deletion: when two instances delete
 * one file, the remote keeps one tombstone and both deletions stand), or it was dropped by a
 * resolution. Anything else vanished (invariant 2). A file that is live at the end may
 * have been deleted only if a resolution dropped that deletion (invariant 3).
 *
 * A restore from the history (an older version, or a file back from the trash) makes an old state
 * current again: its key is that old state's key, so the one place two changes share a live key. Its
 * history is the old state's, plus the row it was made on, plus the restore — merged into the old
 * key, so a row still at that old state counts as including what the restore superseded (the check
 * is that much weaker for a restored file). A restore to a state no change produced, or with fields
 * the old state did not have, is a problem. A deletion undone by a restore is in the history of the
 * final state, or at least in the history of a restore (`undone`: the restored state may since have
 * lost a conflict, as a keep_both copy), and that is what invariant 3 accepts besides a resolution. A
 * restore over a remote tombstone undoes every deletion merged into that tombstone, as a resolution
 * that drops it does (`undoTombstone`). A restore that reached the remote is accounted when the final
 * state includes any change that made the state it restored (`restoreShared`: two instances may hold
 * that state, and one may have built on it before the restore merged into it) — weaker than for
 * other changes: a restore overwritten after it was shared goes unnoticed when the final state
 * descends from the restored one.
 *
 * Not covered: two changes that produce byte-identical states (the generator never makes them,
 * except tombstones of the same state, whose histories are merged); the timestamps and
 * `local_modified_at`; whether a resolution dropped *only* what the person saw in the conflict
 * (it is trusted to drop the difference between the two sides it was shown).
 */
export interface Change {
  id: number;
  step: number;
  instance: string;
  stableId: string;
  kind: 'create' | 'content' | 'meta' | 'delete' | 'copy' | 'restore';
  key: string;
}

export interface Problem {
  invariant: string;
  message: string;
}

/** The shareable part of a local or a remote row. */
export type Row = Pick<
  FileRecord,
  'hash' | 'filename' | 'file_type' | 'mime_type' | 'size' | 'doc_id' | 'collections' | 'labels' | 'metadata' | 'deleted'
> & { stable_id: string };

/** The state key of a row (local or remote). */
export function stateKey(row: Pick<Row, 'stable_id' | 'hash' | 'metadata' | 'deleted'>): string {
  const rev = (row.metadata as { rev?: unknown }).rev;
  return `${row.stable_id}|${row.hash.slice(0, 16)}|${rev === undefined ? '-' : String(rev)}|${row.deleted ? 'D' : 'L'}`;
}

/** The shareable fields of a row, canonically: what must be equal everywhere (timestamps aside). */
export function shareable(row: Row): string {
  return canonical({
    stable_id: row.stable_id,
    hash: row.hash,
    filename: row.filename,
    file_type: row.file_type,
    mime_type: row.mime_type,
    size: row.size,
    doc_id: row.doc_id,
    collections: row.collections,
    labels: row.labels,
    metadata: row.metadata,
    deleted: row.deleted,
  });
}

export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export class Model {
  readonly changes: Change[] = [];
  private readonly histories = new Map<string, Set<number>>();
  private readonly states = new Map<string, string>();
  /** Change id -> the resolution that dropped it. */
  readonly dropped = new Map<number, string>();
  /** `stable_id@version` of a remote tombstone -> the deletions that reached the remote as it. */
  private readonly tombstones = new Map<string, Set<number>>();
  /** Deletions not yet seen on the remote. */
  readonly unattributed = new Set<Change>();
  private readonly tombstoneDrops: { tombstone: string; kept: Set<number>; why: string }[] = [];
  readonly problems: Problem[] = [];
  /** Restores seen synced on their instance (they reached the remote, maybe as an equal remote state). */
  private readonly sharedRestores = new Set<number>();
  /** Deletions a restore was made on top of (undone: the file may live again, invariant 3). */
  private readonly undone = new Set<number>();
  private nextId = 1;
  /** Hears every recorded change (tracing). */
  onChange?: (change: Change, parent: string | undefined) => void;

  /** The number the next change will get (content and `metadata.rev` carry it). */
  peekId(): number {
    return this.nextId;
  }

  /** A change accepted by `instance`: `before` is the row it was made on (none for a create). */
  record(step: number, instance: string, kind: Change['kind'], before: Row | undefined, after: Row, parentHistory?: Set<number>): Change {
    const id = this.nextId++;
    const parent = parentHistory ?? (before ? this.historyOf(before, `the row ${instance} changed (step ${step})`) : new Set<number>());
    const key = stateKey(after);
    const change: Change = { id, step, instance, stableId: after.stable_id, kind, key };
    this.changes.push(change);
    const history = new Set(parent);
    history.add(id);
    if (kind === 'restore') {
      for (const c of parent) if (this.changes[c - 1]?.kind === 'delete' && this.changes[c - 1]!.stableId === after.stable_id) this.undone.add(c);
    }
    const known = this.histories.get(key);
    if (kind === 'restore') {
      if (!known) this.problems.push({ invariant: '2', message: `a restore by ${instance} (step ${step}) made state ${key}, which no change produced: ${shareable(after)}` });
      else if (this.states.get(key) !== shareable(after)) {
        this.problems.push({
          invariant: '2',
          message: `a restore by ${instance} (step ${step}) made state ${key} with other fields:\n      restored ${shareable(after)}\n      recorded ${this.states.get(key)}`,
        });
      }
    }
    if (known) {
      // Only tombstones of one state may coincide (two instances deleting the same version), and restores.
      if (!after.deleted && kind !== 'restore') {
        this.problems.push({ invariant: 'model', message: `state ${key} produced twice (step ${step}): the generator is not unique` });
      }
      for (const c of known) history.add(c);
    }
    this.histories.set(key, history);
    this.states.set(key, shareable(after));
    if (kind === 'delete') this.unattributed.add(change);
    this.onChange?.(change, before ? stateKey(before) : undefined);
    return change;
  }

  /**
   * A resolution on `instance`: `local` was the local side, `remote` the stored remote side, `kept`
   * the states that survive it (the local row, the remote row, the copy).
   */
  resolve(step: number, instance: string, resolution: string, local: Row, remote: Row & { version?: number }, kept: Row[]): void {
    const why = `${resolution} on ${instance} at step ${step} (file ${local.stable_id})`;
    const keptHistory = new Set<number>();
    for (const row of kept) for (const c of this.historyOf(row, why)) keptHistory.add(c);
    for (const c of [...this.historyOf(local, why), ...this.historyOf(remote, why)]) {
      if (!keptHistory.has(c) && !this.dropped.has(c)) this.dropped.set(c, why);
    }
    // Dropping a remote tombstone drops every deletion merged into it, also those merged later.
    if (remote.deleted && remote.version !== undefined && !kept.includes(remote)) {
      this.tombstoneDrops.push({ tombstone: `${remote.stable_id}@${remote.version}`, kept: keptHistory, why });
    }
  }

  /**
   * A deletion that reached the remote: after a sync, the instance's row is a synced tombstone at
   * `version` — either the deletion made that version or it was merged into the tombstone there.
   */
  attributeDeletion(change: Change, version: number): void {
    const key = `${change.stableId}@${version}`;
    let set = this.tombstones.get(key);
    if (!set) this.tombstones.set(key, (set = new Set()));
    set.add(change.id);
    this.unattributed.delete(change);
  }

  /**
   * A restore seen synced: it reached the remote, as its own commit or merged into an equal remote
   * state (a sync finds both sides the same: mark_synced) that others may have built on before the
   * restore was made. Accounted from then on like that state: when a final state includes any change
   * that produced it.
   */
  restoreShared(change: Change): void {
    this.sharedRestores.add(change.id);
  }

  /**
   * A restore from the trash made over the remote tombstone `stableId@version`: like a resolution
   * that drops that tombstone, it undoes every deletion that reached the remote as it (before or
   * after the restore), with whatever only those deletions held.
   */
  undoTombstone(stableId: string, version: number, restored: Row, why: string): void {
    this.tombstoneDrops.push({ tombstone: `${stableId}@${version}`, kept: this.histories.get(stateKey(restored)) ?? new Set(), why });
  }

  /**
   * The history of a remote tombstone (`stable_id@version`): every deletion that reached the remote
   * as it, with what each was made on; all deletions of the file when none is attributed yet.
   */
  tombstoneHistory(stableId: string, version: number | null): Set<number> {
    const history = new Set<number>();
    const attributed = version === null ? undefined : this.tombstones.get(`${stableId}@${version}`);
    const deletions = attributed ? [...attributed].map((id) => this.changes[id - 1]!) : this.changes.filter((c) => c.kind === 'delete' && c.stableId === stableId);
    for (const d of deletions) for (const c of this.histories.get(d.key) ?? []) history.add(c);
    return history;
  }

  /** The history of a state that must be known; an unknown state is a problem (something invented it). */
  historyOf(row: Row, where: string): Set<number> {
    const key = stateKey(row);
    const history = this.histories.get(key);
    if (!history) {
      this.problems.push({ invariant: '2', message: `${where}: state ${key} was made by no accepted change: ${shareable(row)}` });
      return new Set();
    }
    const expected = this.states.get(key);
    if (expected !== shareable(row)) {
      this.problems.push({
        invariant: '2',
        message: `${where}: state ${key} has fields no change gave it:\n      seen     ${shareable(row)}\n      recorded ${expected}`,
      });
    }
    return history;
  }

  /** Whether the key was produced by a change (tombstones made by pulling a deletion are not). */
  known(row: Row): boolean {
    return this.histories.has(stateKey(row));
  }

  /**
   * Checks invariants 2 and 3 against the final rows: `remoteRows` (the final snapshot) and, for ids
   * the remote never had, the local rows of the instances.
   */
  check(remoteRows: RemoteFileRow[], localOnly: Row[]): Problem[] {
    const problems: Problem[] = [];
    for (const drop of this.tombstoneDrops) {
      for (const d of this.tombstones.get(drop.tombstone) ?? []) {
        const key = this.changes[d - 1]!.key;
        for (const c of this.histories.get(key) ?? []) if (!drop.kept.has(c) && !this.dropped.has(c)) this.dropped.set(c, drop.why);
      }
    }
    const accounted = new Set<number>();
    const finalById = new Map<string, Row>();
    for (const row of [...remoteRows, ...localOnly]) {
      if (finalById.has(row.stable_id)) continue;
      finalById.set(row.stable_id, row);
      // A tombstone pulled from elsewhere keeps the local fields: judge it by the remote row instead.
      for (const c of this.historyOf(row, `final row ${row.stable_id}`)) accounted.add(c);
    }
    // A file deleted at the end: every deletion of it stands, with all it was made on ("deleted by a
    // later deletion"), whichever tombstone the remote kept when two instances deleted it.
    for (const change of this.changes) {
      if (change.kind !== 'delete' || !finalById.get(change.stableId)?.deleted) continue;
      for (const c of this.histories.get(change.key) ?? []) accounted.add(c);
    }
    for (const change of this.changes) {
      if (accounted.has(change.id) || this.dropped.has(change.id)) continue;
      const final = finalById.get(change.stableId);
      if (this.sharedRestores.has(change.id) && final) {
        const finalHistory = this.histories.get(stateKey(final));
        if (this.changes.some((c) => c.key === change.key && c.id !== change.id && finalHistory?.has(c.id))) continue;
      }
      problems.push({
        invariant: '2',
        message:
          `change #${change.id} (${change.kind} of ${change.stableId} by ${change.instance} at step ${change.step}, state ${change.key}) ` +
          `vanished: the final state is ${final ? stateKey(final) : 'absent'}, which does not include it, and no resolution dropped it`,
      });
    }
    for (const change of this.changes) {
      if (change.kind !== 'delete') continue;
      const final = finalById.get(change.stableId);
      if (!final || final.deleted || this.dropped.has(change.id)) continue;
      // A restore from the trash made on top of the deletion undid it.
      if (this.undone.has(change.id) || this.histories.get(stateKey(final))?.has(change.id)) continue;
      problems.push({
        invariant: '3',
        message: `${change.stableId} was deleted by ${change.instance} at step ${change.step} and is live at the end (${stateKey(final)}) without an edit or a resolution that undid the deletion`,
      });
    }
    return [...this.problems, ...problems];
  }
}
