import { RemoteCorruptError } from './errors.ts';
import { parseSnapshotName } from './paths.ts';

/** What `version.txt` says (SPEC §2): the current version and the immutable snapshot holding it. */
export interface VersionHead {
  version: number;
  /** Path of the snapshot, e.g. `metadata/000042-k3j2h4g5f6d7.db`. */
  snapshot: string;
  sha256: string;
  commit: string;
  /** The repository id: tells a replaced remote from ours without downloading anything. */
  repo: string;
}

/**
 * Line 1 is the bare integer version (readable by the seed's tools); then `key value` lines.
 * Anything else is refused: a torn or foreign file must never be read as "version 0".
 */
export function parseVersionFile(text: string): VersionHead {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const first = lines[0] ?? '';
  if (!/^\d{1,15}$/.test(first)) throw new RemoteCorruptError(`version.txt does not start with a version number: '${first.slice(0, 40)}'`);
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const match = /^([a-z0-9_]+)\s+(\S+)$/.exec(line);
    if (match) fields.set(match[1]!, match[2]!);
  }
  const snapshot = fields.get('snapshot');
  const sha256 = fields.get('sha256');
  const commit = fields.get('commit');
  const repo = fields.get('repo');
  if (!snapshot || !sha256 || !commit || !repo) {
    throw new RemoteCorruptError('version.txt lacks its snapshot, sha256, commit or repo line');
  }
  const parsed = parseSnapshotName(snapshot);
  if (!parsed || !snapshot.startsWith('metadata/')) throw new RemoteCorruptError(`version.txt names an invalid snapshot: '${snapshot}'`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RemoteCorruptError('version.txt has an invalid sha256');
  const version = Number(first);
  if (parsed.version !== version || parsed.commit !== commit) {
    throw new RemoteCorruptError(`version.txt is inconsistent: version ${version} / commit ${commit} but snapshot ${snapshot}`);
  }
  return { version, snapshot, sha256, commit, repo };
}

export function formatVersionFile(head: VersionHead): string {
  return `${head.version}\nsnapshot ${head.snapshot}\nsha256 ${head.sha256}\ncommit ${head.commit}\nrepo ${head.repo}\n`;
}
