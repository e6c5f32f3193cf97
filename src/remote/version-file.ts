import { AppError } from '../errors.ts';
import { RemoteCorruptError } from './errors.ts';
import { parseSnapshotName, remotePaths } from './paths.ts';

/** The remote metadata format this build writes (docs/design.md#remote-layout-format-2). Format 1 is read, to migrate it. */
export const FORMAT_VERSION = 2;

/** One immutable file `version.txt` lists: a snapshot or a delta, with its sha256 (and size, format 2). */
export interface ChainFile {
  version: number;
  commit: string;
  /** Bytes; `undefined` for a format-1 snapshot (its version.txt does not say). */
  size: number | undefined;
  sha256: string;
}

/**
 * What `version.txt` says (docs/design.md#versiontxt). Format 2: the current version N and its commit, the compacted
 * snapshot S ≤ N, the deltas listed for readers that are behind (every version from some point up to
 * N, consecutive), and the ids of recent commits. Format 1 (read only, to migrate): one snapshot of N.
 */
export interface VersionHead {
  format: 1 | 2;
  version: number;
  commit: string;
  /** The repository id: tells a replaced remote from ours without downloading anything. */
  repo: string;
  snapshot: ChainFile;
  /** Consecutive versions ending at N (may start below S + 1: kept for readers a compaction overtook). */
  deltas: ChainFile[];
  /** Commit ids of the last versions, oldest first; the last is `commit` (format 2; empty for format 1). */
  recent: string[];
  /**
   * Every blob shard folder (`00` … `ff`) was made for this repository (line `shards all`): an
   * upload needs no MKCOL nor listing first (`RemoteBlobStore`). Nothing docsync does removes a shard
   * folder; should one be gone anyway, its PUT finds it missing and makes it, as without this line.
   */
  allShards?: boolean;
}

/** The remote path of a listed snapshot. */
export function snapshotPath(head: VersionHead): string {
  return head.format === 1
    ? remotePaths.snapshot(head.snapshot.version, head.snapshot.commit)
    : remotePaths.snapshotV2(head.snapshot.version, head.snapshot.commit);
}

/** The remote path of a listed delta. */
export function deltaPath(delta: ChainFile): string {
  return remotePaths.journal(delta.version, delta.commit);
}

/** The commit of `version` as far as `head` tells (its snapshot, a listed delta or the recent list). */
export function commitAt(head: VersionHead, version: number): string | undefined {
  if (version === head.snapshot.version) return head.snapshot.commit;
  const delta = head.deltas.find((d) => d.version === version);
  if (delta) return delta.commit;
  const offset = head.version - version;
  return offset >= 0 && offset < head.recent.length ? head.recent[head.recent.length - 1 - offset] : undefined;
}

/**
 * The deltas that take a reader at `base` to N, when the head lists all of them; `undefined` when it
 * does not (too far behind: the snapshot is needed).
 */
export function deltasAfter(head: VersionHead, base: number): ChainFile[] | undefined {
  if (base === head.version) return [];
  if (base > head.version) return undefined;
  const first = head.deltas[0];
  if (!first || first.version > base + 1) return undefined;
  return head.deltas.filter((d) => d.version > base);
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Line 1 is the bare integer version (as in format 1); then `key value…` lines.
 * Anything else is refused: a torn or foreign file must never be read as "version 0".
 */
export function parseVersionFile(text: string): VersionHead {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const first = lines[0] ?? '';
  if (!/^\d{1,15}$/.test(first)) throw new RemoteCorruptError(`version.txt does not start with a version number: '${first.slice(0, 40)}'`);
  const version = Number(first);
  const fields = new Map<string, string[][]>();
  for (const line of lines.slice(1)) {
    const [key, ...values] = line.split(/\s+/);
    if (!key || !/^[a-z0-9_]+$/.test(key)) continue;
    fields.set(key, [...(fields.get(key) ?? []), values]);
  }
  const one = (key: string): string[] | undefined => fields.get(key)?.[0];
  const format = one('format')?.[0];
  if (format === undefined) return parseFormat1(version, one);
  if (!/^\d{1,6}$/.test(format)) throw new RemoteCorruptError(`version.txt has an invalid format line: '${format.slice(0, 20)}'`);
  if (Number(format) > FORMAT_VERSION) throw new RemoteFormatError(Number(format));
  if (Number(format) !== 2) throw new RemoteCorruptError(`version.txt names format ${format}, which no docsync writes`);
  const commit = one('commit')?.[0];
  const repo = one('repo')?.[0];
  if (!commit || !TOKEN.test(commit) || !repo || !TOKEN.test(repo)) throw new RemoteCorruptError('version.txt lacks a valid commit or repo line');
  const snapshotLine = one('snapshot');
  if (!snapshotLine) throw new RemoteCorruptError('version.txt lacks its snapshot line');
  const snapshot = parseChainFile('snapshot', snapshotLine);
  const deltas = (fields.get('delta') ?? []).map((values) => parseChainFile('delta', values));
  const recent = one('recent') ?? [];
  if (!recent.every((c) => TOKEN.test(c))) throw new RemoteCorruptError('version.txt has an invalid recent line');
  // The chain must hold together: a reader trusts it to say which files make up version N.
  const problem =
    snapshot.version > version ? `its snapshot (${snapshot.version}) is newer than the version (${version})`
    : deltas.some((d, i) => i > 0 && d.version !== deltas[i - 1]!.version + 1) ? 'its deltas are not consecutive'
    : deltas.length > 0 && deltas.at(-1)!.version !== version ? 'its last delta is not the current version'
    : deltas.length > 0 && deltas[0]!.version > snapshot.version + 1 ? 'its deltas do not reach back to its snapshot'
    : deltas.length === 0 && snapshot.version !== version ? 'it lists no deltas after its snapshot'
    : (deltas.at(-1) ?? snapshot).commit !== commit ? 'its commit line does not match its last file'
    : recent.length > 0 && recent.at(-1) !== commit ? 'its recent commits do not end with its commit'
    : undefined;
  if (problem) throw new RemoteCorruptError(`version.txt is inconsistent: ${problem}`);
  const allShards = one('shards')?.[0] === 'all';
  return { format: 2, version, commit, repo, snapshot, deltas, recent: recent.length > 0 ? recent : [commit], ...(allShards && { allShards }) };
}

/** `snapshot <version> <commit> <size> <sha256>` (the same for `delta`). */
function parseChainFile(kind: string, values: string[]): ChainFile {
  const [version, commit, size, sha256] = values;
  if (
    values.length !== 4 || !/^\d{1,15}$/.test(version!) || !TOKEN.test(commit!) || !/^\d{1,15}$/.test(size!) || !SHA256.test(sha256!)
  ) {
    throw new RemoteCorruptError(`version.txt has an invalid ${kind} line`);
  }
  return { version: Number(version), commit: commit!, size: Number(size), sha256: sha256! };
}

/** Format 1: `snapshot metadata/000042-<commit>.db`, `sha256`, `commit`, `repo` lines. */
function parseFormat1(version: number, one: (key: string) => string[] | undefined): VersionHead {
  const single = (key: string) => {
    const values = one(key);
    return values?.length === 1 ? values[0] : undefined;
  };
  const snapshot = single('snapshot');
  const sha256 = single('sha256');
  const commit = single('commit');
  const repo = single('repo');
  if (!snapshot || !sha256 || !commit || !repo) {
    throw new RemoteCorruptError('version.txt lacks its snapshot, sha256, commit or repo line');
  }
  const parsed = parseSnapshotName(snapshot);
  if (!parsed || !snapshot.startsWith('metadata/')) throw new RemoteCorruptError(`version.txt names an invalid snapshot: '${snapshot.slice(0, 80)}'`);
  if (!SHA256.test(sha256)) throw new RemoteCorruptError('version.txt has an invalid sha256');
  if (parsed.version !== version || parsed.commit !== commit) {
    throw new RemoteCorruptError(`version.txt is inconsistent: version ${version} / commit ${commit} but snapshot ${snapshot}`);
  }
  return { format: 1, version, commit, repo, snapshot: { version, commit, size: undefined, sha256 }, deltas: [], recent: [] };
}

/** Format 2 text. Line 1 stays the bare version, as every reader, format 1 included, expects. */
export function formatVersionFile(head: VersionHead): string {
  if (head.format !== 2) throw new Error('this build writes format 2 only');
  const chain = (kind: string, f: ChainFile) => `${kind} ${f.version} ${f.commit} ${f.size ?? 0} ${f.sha256}\n`;
  return (
    `${head.version}\nformat 2\nrepo ${head.repo}\ncommit ${head.commit}\n` +
    chain('snapshot', head.snapshot) +
    head.deltas.map((d) => chain('delta', d)).join('') +
    `recent ${head.recent.join(' ')}\n` +
    (head.allShards ? 'shards all\n' : '')
  );
}

/** A remote written by a newer docsync: refused, never rewritten. */
export class RemoteFormatError extends AppError {
  constructor(found: number) {
    super(
      'remote_format',
      `The remote was written by a newer docsync (metadata format ${found}; this build understands ${FORMAT_VERSION}): upgrade docsync`,
      409,
    );
  }
}
