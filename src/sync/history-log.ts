/**
 * The sync's side of the file history (docs/design.md#history-trash-and-garbage-collection): every commit this instance publishes or pulls is
 * recorded, and so are the earlier versions commits replace (an instance that started from a
 * snapshot has not seen those committed, yet a file's state at the window's start is history).
 */
import type { RemoteFileRow } from '../domain/shared-row.ts';
import type { Journal } from '../remote/journal-file.ts';
import { commitAt, type VersionHead } from '../remote/version-file.ts';

/** A published or pulled commit, as the file history records it. */
export interface HistoryCommit {
  version: number;
  commit: string;
  committed_at: string;
  instance_id: string;
}

/** Hears of every commit this instance publishes or pulls. */
export interface HistoryRecorder {
  record(commit: HistoryCommit, rows: RemoteFileRow[]): void;
}

/** Hands a commit's rows to the file history. */
export function recordJournal(history: HistoryRecorder | undefined, journal: Journal): void {
  history?.record(
    { version: journal.version, commit: journal.commit, committed_at: journal.committed_at, instance_id: journal.instance },
    journal.rows,
  );
}

/**
 * Records earlier versions that a commit replaced, as the shared state held them (their commit id
 * when version.txt still names it; their author unknown). Already recorded versions keep what was
 * recorded. Costs what changed, not the number of files.
 */
export function recordReplaced(history: HistoryRecorder | undefined, rows: RemoteFileRow[], head: VersionHead | undefined): void {
  if (!history) return;
  for (const row of rows) {
    const commit = (head && commitAt(head, row.version)) ?? 'unknown';
    history.record({ version: row.version, commit, committed_at: row.updated_at, instance_id: 'unknown' }, [row]);
  }
}
