import { describe, expect, it } from 'vitest';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import { parseSnapshotName, remotePaths } from '../../src/remote/paths.ts';
import {
  commitAt,
  deltaPath,
  deltasAfter,
  formatVersionFile,
  parseVersionFile,
  RemoteFormatError,
  snapshotPath,
  type ChainFile,
  type VersionHead,
} from '../../src/remote/version-file.ts';

const sha = 'a'.repeat(64);
const file = (version: number, size = 100): ChainFile => ({ version, commit: `c${version}`, size, sha256: sha });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A format-2 head at `version`: snapshot `snapshot`, deltas `deltaFrom`…`version` listed. */
const head = (version: number, snapshot: number, deltaFrom = snapshot + 1): VersionHead => ({
  format: 2,
  version,
  commit: `c${version}`,
  repo: 'r-1',
  snapshot: file(snapshot, 4096),
  deltas: range(deltaFrom, version).map((v) => file(v)),
  recent: range(Math.max(1, version - 4), version).map((v) => `c${v}`),
});

/** Format-2 text from its lines, line 1 being the version. */
const v2 = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('version.txt format 2', () => {
  it('round-trips a head with no deltas (a first commit: snapshot = version), the bare version on line 1', () => {
    const h = head(1, 1);
    const text = formatVersionFile(h);
    expect(text.split('\n').slice(0, 2)).toEqual(['1', 'format 2']);
    expect(text).toContain(`snapshot 1 c1 4096 ${sha}\n`);
    expect(text).not.toMatch(/^delta /m);
    expect(parseVersionFile(text)).toEqual(h);
    expect(parseVersionFile(text.replace(/\n/g, '\r\n'))).toEqual(h);
  });

  it('round-trips a head with deltas after its snapshot', () => {
    const h = head(7, 3);
    const text = formatVersionFile(h);
    expect(text.match(/^delta .*/gm)).toEqual([4, 5, 6, 7].map((v) => `delta ${v} c${v} 100 ${sha}`));
    expect(parseVersionFile(text)).toEqual(h);
  });

  it('round-trips a compacted head whose deltas reach below its snapshot (kept for readers a few versions behind)', () => {
    const h = head(80, 78, 65);
    const parsed = parseVersionFile(formatVersionFile(h));
    expect(parsed).toEqual(h);
    expect(parsed.deltas[0]!.version).toBe(65);
    expect(parsed.snapshot.version).toBe(78);
  });

  it('round-trips `shards all` (every shard folder made); a head without it, or with another value, says nothing', () => {
    const h: VersionHead = { ...head(7, 3), allShards: true };
    const text = formatVersionFile(h);
    expect(text.endsWith('shards all\n')).toBe(true);
    expect(parseVersionFile(text)).toEqual(h);
    expect(formatVersionFile(head(7, 3))).not.toMatch(/^shards/m);
    expect(parseVersionFile(formatVersionFile(head(7, 3))).allShards).toBeUndefined();
    expect(parseVersionFile(text.replace('shards all', 'shards some')).allShards).toBeUndefined();
  });

  it('names its files under snapshots/ and journal/', () => {
    const h = head(7, 3);
    expect(snapshotPath(h)).toBe('snapshots/000003-c3.db');
    expect(deltaPath(h.deltas[0]!)).toBe('journal/000004-c4.json');
  });

  it('a head without a recent line reads as recent = [commit]', () => {
    const text = v2('2', 'format 2', 'repo r', 'commit c2', `snapshot 1 c1 10 ${sha}`, `delta 2 c2 10 ${sha}`);
    expect(parseVersionFile(text).recent).toEqual(['c2']);
  });

  it('refuses a format it does not know: newer → "upgrade docsync", never a rewrite', () => {
    const text = v2('1', 'format 3', 'repo r', 'commit c1', `snapshot 1 c1 10 ${sha}`, 'recent c1');
    expect(() => parseVersionFile(text)).toThrow(RemoteFormatError);
    expect(() => parseVersionFile(text)).toThrow(/metadata format 3; this build understands 2\): upgrade docsync/);
  });

  const good = ['7', 'format 2', 'repo r', 'commit c7', `snapshot 5 c5 10 ${sha}`, `delta 6 c6 10 ${sha}`, `delta 7 c7 10 ${sha}`, 'recent c6 c7'];
  const replace = (index: number, line: string) => v2(...good.map((l, i) => (i === index ? line : l)));
  it('the good text used below parses', () => {
    expect(parseVersionFile(v2(...good))).toMatchObject({ version: 7, snapshot: { version: 5 }, deltas: [{ version: 6 }, { version: 7 }] });
  });

  it.each([
    ['non-consecutive deltas', v2(...good.slice(0, 5), `delta 5 c5 10 ${sha}`, `delta 7 c7 10 ${sha}`, 'recent c7'), /deltas are not consecutive/],
    ['a last delta that is not the version', replace(0, '8'), /last delta is not the current version/],
    ['deltas that do not reach back to the snapshot', replace(4, `snapshot 4 c4 10 ${sha}`), /do not reach back to its snapshot/],
    ['no deltas after an older snapshot', v2(...good.slice(0, 5), 'recent c7'), /lists no deltas after its snapshot/],
    ['a commit line that is not its last file', replace(3, 'commit c6'), /commit line does not match its last file/],
    ['recent commits not ending with the commit', replace(7, 'recent c7 c6'), /recent commits do not end with its commit/],
    ['a snapshot newer than the version', replace(4, `snapshot 8 c8 10 ${sha}`), /snapshot \(8\) is newer than the version \(7\)/],
    ['a bad sha256', replace(6, 'delta 7 c7 10 xyz'), /invalid delta line/],
    ['a bad snapshot sha256', replace(4, `snapshot 5 c5 10 ${'A'.repeat(64)}`), /invalid snapshot line/],
    ['a path-like commit in a delta', replace(6, `delta 7 ../x 10 ${sha}`), /invalid delta line/],
    ['a path-like commit line', replace(3, 'commit ../x'), /lacks a valid commit or repo line/],
    ['a path-like recent commit', replace(7, 'recent ../x c7'), /invalid recent line/],
    ['a snapshot line without its size', replace(4, `snapshot 5 c5 ${sha}`), /invalid snapshot line/],
    ['no snapshot line', v2(...good.filter((_, i) => i !== 4)), /lacks its snapshot line/],
    ['no repo line', v2(...good.filter((_, i) => i !== 2)), /lacks a valid commit or repo line/],
    ['a garbled format line', replace(1, 'format two'), /invalid format line/],
    ['format 1 named explicitly', replace(1, 'format 1'), /names format 1, which no docsync writes/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseVersionFile(text)).toThrow(RemoteCorruptError);
    expect(() => parseVersionFile(text)).toThrow(message);
  });

  it('writes format 2 only', () => {
    expect(() => formatVersionFile({ ...head(1, 1), format: 1 })).toThrow(/format 2 only/);
  });
});

describe('version.txt format 1 (read, to migrate)', () => {
  it('still parses: one snapshot of the version, no deltas, no recent list', () => {
    const text = `42\nsnapshot metadata/000042-k3j2h4g5f6d7.db\nsha256 ${sha}\ncommit k3j2h4g5f6d7\nrepo r-1\n`;
    const parsed = parseVersionFile(text);
    expect(parsed).toEqual({
      format: 1,
      version: 42,
      commit: 'k3j2h4g5f6d7',
      repo: 'r-1',
      snapshot: { version: 42, commit: 'k3j2h4g5f6d7', size: undefined, sha256: sha },
      deltas: [],
      recent: [],
    });
    expect(snapshotPath(parsed)).toBe('metadata/000042-k3j2h4g5f6d7.db');
    expect(deltasAfter(parsed, 41)).toBeUndefined();
    expect(deltasAfter(parsed, 42)).toEqual([]);
  });

  it.each([
    ['', /does not start with a version number/],
    ['<html>Not Found</html>', /does not start with a version number/],
    ['-1\n', /does not start with a version number/],
    ['7\n', /lacks its snapshot/],
    [`7\nsnapshot metadata/000007-abc.db\nsha256 ${sha}\ncommit abc\n`, /lacks its snapshot, sha256, commit or repo/],
    [`7\nsnapshot ../../etc/passwd\nsha256 ${sha}\ncommit abc\nrepo r\n`, /invalid snapshot/],
    [`7\nsnapshot metadata/000007-abc.db\nsha256 xyz\ncommit abc\nrepo r\n`, /invalid sha256/],
    [`7\nsnapshot metadata/000008-abc.db\nsha256 ${sha}\ncommit abc\nrepo r\n`, /inconsistent/],
    [`7\nsnapshot metadata/000007-abc.db\nsha256 ${sha}\ncommit other\nrepo r\n`, /inconsistent/],
  ])('refuses %j', (text, message) => {
    expect(() => parseVersionFile(text)).toThrow(RemoteCorruptError);
    expect(() => parseVersionFile(text)).toThrow(message);
  });
});

describe('the chain a reader follows', () => {
  const h = head(80, 78, 65); // snapshot 78; deltas 65…80; recent c76…c80

  it('deltasAfter: none at the head, the missing ones when all are listed, undefined when too far behind or ahead', () => {
    expect(deltasAfter(h, 80)).toEqual([]);
    expect(deltasAfter(h, 79)!.map((d) => d.version)).toEqual([80]);
    // Below the snapshot, yet every delta after it is still listed.
    expect(deltasAfter(h, 70)!.map((d) => d.version)).toEqual(range(71, 80));
    expect(deltasAfter(h, 64)!.map((d) => d.version)).toEqual(range(65, 80));
    expect(deltasAfter(h, 63)).toBeUndefined();
    expect(deltasAfter(h, 0)).toBeUndefined();
    expect(deltasAfter(h, 81)).toBeUndefined();
    // A snapshot-only head (no deltas) covers nobody behind it.
    expect(deltasAfter(head(5, 5), 4)).toBeUndefined();
    expect(deltasAfter(head(5, 5), 5)).toEqual([]);
  });

  it('commitAt: from the snapshot, a delta, or the recent list; undefined past what the head tells', () => {
    expect(commitAt(h, 78)).toBe('c78');
    expect(commitAt(h, 65)).toBe('c65');
    expect(commitAt(h, 80)).toBe('c80');
    expect(commitAt(h, 64)).toBeUndefined();
    expect(commitAt(h, 81)).toBeUndefined();
    const snapshotOnly: VersionHead = { ...head(9, 9), recent: ['c6', 'c7', 'c8', 'c9'] };
    expect(commitAt(snapshotOnly, 7)).toBe('c7');
    expect(commitAt(snapshotOnly, 6)).toBe('c6');
    expect(commitAt(snapshotOnly, 5)).toBeUndefined();
    expect(commitAt(snapshotOnly, 10)).toBeUndefined();
  });
});

describe('remote paths', () => {
  it('shard blobs by the first two hex characters, with the extension', () => {
    const hash = `ab${'0'.repeat(62)}`;
    expect(remotePaths.blob(hash, 'tei.xml')).toBe(`ab/${hash}.tei.xml`);
    expect(remotePaths.blobDir(hash)).toBe('ab');
    expect(() => remotePaths.blob('../x', 'pdf')).toThrow();
    expect(() => remotePaths.blob(hash, '../pdf')).toThrow();
  });

  it('name snapshots and deltas so they sort by version, and refuse path-like commits', () => {
    expect(remotePaths.snapshot(42, 'abc')).toBe('metadata/000042-abc.db');
    expect(remotePaths.snapshotV2(42, 'abc')).toBe('snapshots/000042-abc.db');
    expect(remotePaths.journal(43, 'abc')).toBe('journal/000043-abc.json');
    expect(parseSnapshotName('000042-abc.db')).toEqual({ version: 42, commit: 'abc' });
    expect(parseSnapshotName('metadata/1234567-x_y.db')).toEqual({ version: 1234567, commit: 'x_y' });
    expect(parseSnapshotName('notes.txt')).toBeUndefined();
    expect(() => remotePaths.snapshot(1, '../x')).toThrow();
    expect(() => remotePaths.snapshotV2(1, '../x')).toThrow();
    expect(() => remotePaths.journal(1, '../x')).toThrow();
  });
});
