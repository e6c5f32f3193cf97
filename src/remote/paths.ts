/**
 * The only place remote paths are built (docs/design.md#remote-layout-format-2). Relative to the remote root, `/`-separated.
 */
const HASH = /^[0-9a-f]{64}$/;
const EXT = /^[a-z0-9]+(\.[a-z0-9]+)*$/;

export const remotePaths = {
  versionFile: 'version.txt',
  metadataDir: 'metadata',
  lockDir: 'version.txt.lock',
  lockOwner: 'version.txt.lock/owner.json',
  /**
   * Takeover claim on a stale lock: only one taker can create it. A sibling of the lock, not a child,
   * so a late claim can never land inside (and change) a fresh lock.
   */
  lockClaim: (staleNonce: string) => `version.txt.lock.takeover-${safeToken(staleNonce)}`,
  probeDir: '.docsync-probe',
  probe: (name: string) => `.docsync-probe/${safeToken(name)}`,

  /** `metadata/000042-<commit>.db` — zero-padded so names sort by version. */
  snapshot: (version: number, commit: string) => `metadata/${padVersion(version)}-${safeToken(commit)}.db`,

  /** Format 2 (docs/design.md#remote-layout-format-2): `snapshots/000040-<commit>.db`, a compacted snapshot, written once. */
  snapshotsDir: 'snapshots',
  snapshotV2: (version: number, commit: string) => `snapshots/${padVersion(version)}-${safeToken(commit)}.db`,
  /** Format 2: `journal/000041-<commit>.json`, the rows one commit changed, written once. */
  journalDir: 'journal',
  journal: (version: number, commit: string) => `journal/${padVersion(version)}-${safeToken(commit)}.json`,

  /** The shard folder of a blob: the first two hex characters of its hash. */
  blobDir: (hash: string) => checkHash(hash).slice(0, 2),
  blob: (hash: string, ext: string) => {
    if (!EXT.test(ext)) throw new Error(`not a blob extension: ${ext}`);
    return `${checkHash(hash).slice(0, 2)}/${hash}.${ext}`;
  },
};

/** Parses `metadata/000042-<commit>.db` back into its parts, or undefined for other names. */
export function parseSnapshotName(name: string): { version: number; commit: string } | undefined {
  const match = /^(?:metadata\/)?(\d{6,})-([A-Za-z0-9_-]+)\.db$/.exec(name);
  return match ? { version: Number(match[1]), commit: match[2]! } : undefined;
}

/** Parses `snapshots/000040-<commit>.db` (or the bare name) back into its parts, or undefined for other names. */
export function parseSnapshotV2Name(name: string): { version: number; commit: string } | undefined {
  const match = /^(?:snapshots\/)?(\d{6,})-([A-Za-z0-9_-]+)\.db$/.exec(name);
  return match ? { version: Number(match[1]), commit: match[2]! } : undefined;
}

/** Parses `journal/000041-<commit>.json` (or the bare name) back into its parts, or undefined for other names. */
export function parseJournalName(name: string): { version: number; commit: string } | undefined {
  const match = /^(?:journal\/)?(\d{6,})-([A-Za-z0-9_-]+)\.json$/.exec(name);
  return match ? { version: Number(match[1]), commit: match[2]! } : undefined;
}

/** Parses a blob's name inside its shard folder, `<sha256>.<ext>`, or undefined for anything else. */
export function parseBlobName(name: string): { hash: string; ext: string } | undefined {
  const dot = name.indexOf('.');
  const hash = name.slice(0, dot);
  const ext = name.slice(dot + 1);
  return dot === 64 && HASH.test(hash) && EXT.test(ext) ? { hash, ext } : undefined;
}

/** Whether a folder name is a blob shard: two lowercase hex characters. */
export function isBlobShard(name: string): boolean {
  return /^[0-9a-f]{2}$/.test(name);
}

/** Joins a parent and a child path. */
export function joinPath(parent: string, child: string): string {
  return parent === '' ? child : `${parent}/${child}`;
}

/** The parent folder of a path (`''` for the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function padVersion(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0) throw new Error(`not a version number: ${version}`);
  return String(version).padStart(6, '0');
}

function checkHash(hash: string): string {
  if (!HASH.test(hash)) throw new Error(`not a sha256 hex digest: ${hash}`);
  return hash;
}

function safeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(token)) throw new Error(`not a safe path token: ${token}`);
  return token;
}

/**
 * The segments of a remote path (`''` is the root). Throws on anything that is not a plain relative
 * `/`-separated path — absolute, `.` or `..` segments, empty segments, backslashes, NUL — so no
 * path can point outside the remote root.
 */
export function remotePathSegments(relPath: string): string[] {
  if (relPath === '') return [];
  const segments = relPath.split('/');
  const problem = relPath.includes('\0') ? 'contains NUL'
    : relPath.includes('\\') ? 'contains a backslash'
    : relPath.startsWith('/') || /^[A-Za-z]:/.test(relPath) ? 'is absolute'
    : segments.some((s) => s === '' || s === '.' || s === '..') ? 'has an empty, "." or ".." segment'
    : undefined;
  if (problem) throw new Error(`invalid remote path ${JSON.stringify(relPath)}: ${problem}`);
  return segments;
}
