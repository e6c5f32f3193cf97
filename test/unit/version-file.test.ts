import { describe, expect, it } from 'vitest';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import { parseSnapshotName, remotePaths } from '../../src/remote/paths.ts';
import { formatVersionFile, parseVersionFile } from '../../src/remote/version-file.ts';

const sha = 'a'.repeat(64);

describe('version.txt', () => {
  it('round-trips, with the bare version number on line 1', () => {
    const head = { version: 42, snapshot: 'metadata/000042-k3j2h4g5f6d7.db', sha256: sha, commit: 'k3j2h4g5f6d7', repo: 'r-1' };
    const text = formatVersionFile(head);
    expect(text.split('\n')[0]).toBe('42');
    expect(parseVersionFile(text)).toEqual(head);
    expect(parseVersionFile(text.replace(/\n/g, '\r\n'))).toEqual(head);
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

describe('remote paths', () => {
  it('shard blobs by the first two hex characters, with the extension', () => {
    const hash = `ab${'0'.repeat(62)}`;
    expect(remotePaths.blob(hash, 'tei.xml')).toBe(`ab/${hash}.tei.xml`);
    expect(remotePaths.blobDir(hash)).toBe('ab');
    expect(() => remotePaths.blob('../x', 'pdf')).toThrow();
    expect(() => remotePaths.blob(hash, '../pdf')).toThrow();
  });

  it('name snapshots so they sort by version', () => {
    expect(remotePaths.snapshot(42, 'abc')).toBe('metadata/000042-abc.db');
    expect(parseSnapshotName('000042-abc.db')).toEqual({ version: 42, commit: 'abc' });
    expect(parseSnapshotName('metadata/1234567-x_y.db')).toEqual({ version: 1234567, commit: 'x_y' });
    expect(parseSnapshotName('notes.txt')).toBeUndefined();
    expect(() => remotePaths.snapshot(1, '../x')).toThrow();
  });
});
