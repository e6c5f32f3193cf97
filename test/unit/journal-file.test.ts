import { describe, expect, it } from 'vitest';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import { formatJournal, JOURNAL_KIND, parseJournal, type Journal } from '../../src/remote/journal-file.ts';

const row = (id: string, version: number, extra: Partial<RemoteFileRow> = {}): RemoteFileRow => ({
  stable_id: id,
  hash: 'f'.repeat(64),
  filename: `${id}.pdf`,
  file_type: 'pdf',
  mime_type: 'application/pdf',
  size: 10,
  doc_id: null,
  collections: ['c'],
  labels: ['l'],
  metadata: { n: 1 },
  deleted: false,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  version,
  ...extra,
});

const journal: Journal = {
  repo: 'repo-1',
  version: 41,
  commit: 'commit41',
  parent: { version: 40, commit: 'commit40' },
  instance: 'instance-a',
  committed_at: '2026-11-30T06:00:00.000Z',
  rows: [row('aaaaaaaaaaaa', 41), row('bbbbbbbbbbbb', 41, { deleted: true, labels: [] })],
};
const expected = { repo: 'repo-1', version: 41, commit: 'commit41' };

/** The journal as JSON, changed by `edit`, as bytes. */
const edited = (edit: (data: Record<string, unknown>) => void): Buffer => {
  const data = JSON.parse(formatJournal(journal).toString()) as Record<string, unknown>;
  edit(data);
  return Buffer.from(JSON.stringify(data));
};

describe('journal files (one commit\'s delta)', () => {
  it('round-trip, one row per line, readable JSON', () => {
    const bytes = formatJournal(journal);
    expect(parseJournal(bytes, expected)).toEqual({ journal, rejected: [] });
    const text = bytes.toString();
    expect(JSON.parse(text)).toMatchObject({ kind: JOURNAL_KIND, format: 2, encoding: 'json', repo: 'repo-1', version: 41 });
    expect(text.split('\n').filter((l) => l.includes('"stable_id"'))).toHaveLength(2);
  });

  it('round-trip a first commit (no parent) and an empty delta', () => {
    const first: Journal = { ...journal, version: 1, parent: undefined, rows: [] };
    expect(parseJournal(formatJournal(first), { ...expected, version: 1 })).toEqual({ journal: first, rejected: [] });
  });

  it.each([
    ['another repository', { ...expected, repo: 'repo-2' }],
    ['another version', { ...expected, version: 42 }],
    ['another commit', { ...expected, commit: 'commit99' }],
  ])('is refused when it names %s than version.txt listed', (_what, listed) => {
    expect(() => parseJournal(formatJournal(journal), listed)).toThrow(RemoteCorruptError);
    expect(() => parseJournal(formatJournal(journal), listed)).toThrow(/names another repository, version or commit/);
  });

  it('leaves bad rows out and returns them as rejected, never throws on one', () => {
    const bytes = edited((data) => {
      const rows = data.rows as Record<string, unknown>[];
      rows.push({ ...row('cccccccccccc', 41), hash: 'not-a-hash' }, 'a string, not a row' as never, null as never);
    });
    const { journal: read, rejected } = parseJournal(bytes, expected);
    expect(read.rows.map((r) => r.stable_id)).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    expect(rejected).toHaveLength(3);
    expect(rejected[0]!.id).toContain('cccccccccccc');
    expect(rejected[0]!.problem).toMatch(/hash/);
  });

  it('rejects a row whose version is not the commit\'s', () => {
    const bytes = edited((data) => {
      (data.rows as Record<string, unknown>[])[1]!.version = 40;
    });
    const { journal: read, rejected } = parseJournal(bytes, expected);
    expect(read.rows.map((r) => r.stable_id)).toEqual(['aaaaaaaaaaaa']);
    expect(rejected).toEqual([{ id: 'bbbbbbbbbbbb', problem: 'its version is not 41' }]);
  });

  it('derives the MIME type from the filename, never from the row', () => {
    const bytes = edited((data) => {
      (data.rows as Record<string, unknown>[])[0]!.mime_type = 'text/html';
    });
    expect(parseJournal(bytes, expected).journal.rows[0]!.mime_type).toBe('application/pdf');
  });

  it.each([
    ['not JSON', Buffer.from('{"kind": "docsync-journal", '), /is not JSON/],
    ['an empty file', Buffer.alloc(0), /is not JSON/],
    ['JSON that is not an object', Buffer.from('[1,2,3]'), /is not a docsync journal/],
    ['JSON null', Buffer.from('null'), /is not a docsync journal/],
    ['another kind', edited((d) => void (d.kind = 'something-else')), /is not a docsync journal/],
    ['an unknown encoding', edited((d) => void (d.encoding = 'aes-gcm')), /unknown format or encoding: upgrade docsync/],
    ['a newer format', edited((d) => void (d.format = 3)), /unknown format or encoding: upgrade docsync/],
    ['no rows array', edited((d) => void (d.rows = 'none')), /lacks its parent, instance, time or rows/],
    ['no instance', edited((d) => void delete d.instance), /lacks its parent, instance, time or rows/],
    ['a malformed parent', edited((d) => void (d.parent = { version: 'forty' })), /lacks its parent, instance, time or rows/],
  ])('refuses %s', (_what, bytes, message) => {
    expect(() => parseJournal(bytes, expected)).toThrow(RemoteCorruptError);
    expect(() => parseJournal(bytes, expected)).toThrow(message);
  });

  it('bounds the instance and time it carries (they reach logs and history)', () => {
    const bytes = edited((d) => {
      d.instance = 'i'.repeat(10_000);
      d.committed_at = 't'.repeat(10_000);
    });
    const { journal: read } = parseJournal(bytes, expected);
    expect(read.instance).toHaveLength(100);
    expect(read.committed_at).toHaveLength(40);
  });
});
