import { readSharedRow, type RejectedRow, type RemoteFileRow } from '../domain/shared-row.ts';
import { RemoteCorruptError } from './errors.ts';

/**
 * One commit's delta (docs/design.md#remote-layout-format-2): the rows that changed in `version`, whole (every shared field and
 * the version), with where the commit came from. Written once under a new name, never rewritten.
 *
 * JSON, one row per line, so a person can read it. `encoding` names how the rows are stored: `json`
 * today; room for an encrypted form later without a new file layout.
 */
export interface Journal {
  repo: string;
  version: number;
  commit: string;
  /** The commit this one was made on; absent for the first commit of a repository. */
  parent: { version: number; commit: string } | undefined;
  /** The instance that made the commit. */
  instance: string;
  /** UTC ISO-8601, by the committing instance's clock. */
  committed_at: string;
  rows: RemoteFileRow[];
}

export const JOURNAL_KIND = 'docsync-journal';

export function formatJournal(journal: Journal): Buffer {
  const header = {
    kind: JOURNAL_KIND,
    format: 2,
    encoding: 'json',
    repo: journal.repo,
    version: journal.version,
    commit: journal.commit,
    parent: journal.parent ?? null,
    instance: journal.instance,
    committed_at: journal.committed_at,
  };
  const rows = journal.rows.map((row) => JSON.stringify(row)).join(',\n');
  return Buffer.from(`${JSON.stringify(header).slice(0, -1)},"rows":[\n${rows}\n]}\n`);
}

/**
 * Reads a delta someone else wrote. The header must be what `version.txt` said (repo, version,
 * commit), or the file is not the one listed; rows are input (docs/design.md#untrusted-remotes): each is checked, a bad one
 * is left out and returned in `rejected`, and so is a row whose version is not the commit's.
 */
export function parseJournal(bytes: Buffer, expected: { repo: string; version: number; commit: string }): { journal: Journal; rejected: RejectedRow[] } {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RemoteCorruptError(`The delta of version ${expected.version} is not JSON`);
  }
  const header = data as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || header.kind !== JOURNAL_KIND) {
    throw new RemoteCorruptError(`The delta of version ${expected.version} is not a docsync journal`);
  }
  if (header.format !== 2 || header.encoding !== 'json') {
    throw new RemoteCorruptError(`The delta of version ${expected.version} has an unknown format or encoding: upgrade docsync`);
  }
  if (header.repo !== expected.repo || header.version !== expected.version || header.commit !== expected.commit) {
    throw new RemoteCorruptError(`The delta listed for version ${expected.version} names another repository, version or commit`);
  }
  const parent = header.parent as Record<string, unknown> | null;
  const validParent = parent === null || (typeof parent === 'object' && Number.isSafeInteger(parent.version) && typeof parent.commit === 'string');
  if (!validParent || typeof header.instance !== 'string' || typeof header.committed_at !== 'string' || !Array.isArray(header.rows)) {
    throw new RemoteCorruptError(`The delta of version ${expected.version} lacks its parent, instance, time or rows`);
  }
  const rows: RemoteFileRow[] = [];
  const rejected: RejectedRow[] = [];
  for (const raw of header.rows as unknown[]) {
    const reading = readSharedRow(typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {});
    if (!reading.ok) rejected.push(reading.rejected);
    else if (reading.row.version !== expected.version) rejected.push({ id: reading.row.stable_id, problem: `its version is not ${expected.version}` });
    else rows.push(reading.row);
  }
  return {
    journal: {
      repo: expected.repo,
      version: expected.version,
      commit: expected.commit,
      parent: parent === null ? undefined : { version: parent.version as number, commit: parent.commit as string },
      instance: header.instance.slice(0, 100),
      committed_at: header.committed_at.slice(0, 40),
      rows,
    },
    rejected,
  };
}
