import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/domain/file.ts';
import { describeRejected, readSharedRow, readStoredRow, sharedRowProblem, toStored, type SharedRow } from '../../src/domain/shared-row.ts';

/** A row as a snapshot stores it, every field valid. */
const stored = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  stable_id: 'abcdefgh2345',
  hash: 'a'.repeat(64),
  filename: 'paper.pdf',
  file_type: 'pdf',
  mime_type: 'application/pdf',
  size: 1234,
  doc_id: null,
  collections: '["corpus"]',
  labels: '[]',
  metadata: '{"author":"Ada"}',
  deleted: 0,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-02T00:00:00Z',
  version: 3,
  ...overrides,
});

const problemOf = (overrides: Record<string, unknown>): string | undefined => {
  const reading = readStoredRow(stored(overrides));
  return reading.ok ? undefined : reading.rejected.problem;
};

describe('a shared row is checked field by field', () => {
  it('a valid row reads as a typed row', () => {
    const reading = readStoredRow(stored());
    expect(reading).toEqual({
      ok: true,
      row: {
        ...stored(),
        collections: ['corpus'],
        labels: [],
        metadata: { author: 'Ada' },
        deleted: false,
      },
    });
  });

  // [field, value, accepted]
  it.each<[string, unknown, boolean]>([
    ['stable_id', 'abcdefgh2345', true],
    ['stable_id', '2345678923', true],
    ['stable_id', 'z'.repeat(32), true],
    ['stable_id', '../../etc/passwd', false],
    ['stable_id', 'a'.repeat(300), false],
    ['stable_id', 'abcdefgh234', true],
    ['stable_id', 'abcdefgh2', false],
    ['stable_id', 'abcd efgh2345', false],
    ['stable_id', 'abcdefgh2345\n', false],
    ['stable_id', 'ABCDEFGH2345', false],
    ['stable_id', 'abcdefgh0123', false],
    ['stable_id', null, false],
    ['stable_id', 1234567890123, false],
    ['hash', 'f'.repeat(64), true],
    ['hash', 'F'.repeat(64), false],
    ['hash', 'g'.repeat(64), false],
    ['hash', 'a'.repeat(63), false],
    ['hash', '../../x', false],
    ['hash', null, false],
    ['filename', 'with space & ünïcode.pdf', true],
    ['filename', '../../etc/passwd', true],
    ['filename', 'line\nbreak.pdf', false],
    ['filename', 'nul\u0000.pdf', false],
    ['filename', 'del\u007f.pdf', false],
    ['filename', '   ', false],
    ['filename', 'x'.repeat(LIMITS.filenameLength), true],
    ['filename', 'x'.repeat(LIMITS.filenameLength + 1), false],
    ['filename', 42, false],
    ['file_type', 'tei.xml', true],
    ['file_type', 'bin', true],
    ['file_type', 'txt', true], // a renamed file keeps its content, blob and type: paper.pdf may be a txt
    ['file_type', '../x', false],
    ['file_type', 'PDF', false],
    ['file_type', 'pdf/..', false],
    ['file_type', 'a'.repeat(17), false],
    ['file_type', '', false],
    ['file_type', null, false],
    ['size', 0, true],
    ['size', Number.MAX_SAFE_INTEGER, true],
    ['size', -1, false],
    ['size', 1.5, false],
    ['size', 2 ** 60, false],
    ['size', '12', false],
    ['doc_id', 'doc-1', true],
    ['doc_id', null, true],
    ['doc_id', '', false],
    ['doc_id', 'x'.repeat(LIMITS.docIdLength + 1), false],
    ['doc_id', 'a\tb', false],
    ['doc_id', 7, false],
    ['collections', '["a","b"]', true],
    ['collections', 'not json', false],
    ['collections', '{"a":1}', false],
    ['collections', '[1,2]', false],
    ['collections', '["a\\u0000"]', false],
    ['collections', JSON.stringify(Array.from({ length: LIMITS.tagCount + 1 }, (_, i) => `t${i}`)), false],
    ['collections', JSON.stringify(['x'.repeat(LIMITS.tagLength + 1)]), false],
    ['collections', null, false],
    ['labels', '["final"]', true],
    ['labels', '"final"', false],
    ['labels', '[', false],
    ['metadata', '{}', true],
    ['metadata', '{"nested":{"deep":[1,2,{"x":null}]}}', true],
    ['metadata', '[1,2]', false],
    ['metadata', 'null', false],
    ['metadata', '"text"', false],
    ['metadata', 'not json', false],
    ['metadata', `{"a":"${'x'.repeat(LIMITS.metadataBytes)}"}`, false],
    ['metadata', `${'{"a":'.repeat(LIMITS.metadataDepth + 1)}1${'}'.repeat(LIMITS.metadataDepth + 1)}`, false],
    ['metadata', 'x'.repeat(10 * LIMITS.metadataBytes), false],
    ['deleted', 1, true],
    ['deleted', 2, false],
    ['deleted', '0', false],
    ['deleted', null, false],
    ['created_at', '2026-11-30T04:10:24Z', true],
    ['created_at', '2026-11-30 04:10:24', false],
    ['created_at', '2026-11-30T04:10:24+02:00', false],
    ['created_at', '2026-13-40T99:99:99Z', false],
    ['created_at', 'yesterday', false],
    ['updated_at', 1764475824000, false],
    ['version', 1, true],
    ['version', 0, false],
    ['version', -3, false],
    ['version', 2.5, false],
    ['version', '3', false],
  ])('%s = %j: accepted %s', (field, value, accepted) => {
    const problem = problemOf({ [field]: value });
    if (accepted) expect(problem).toBeUndefined();
    else expect(problem).toMatch(new RegExp(`^${field}`));
  });

  it('toStored is the inverse of readStoredRow (the one encoding of snapshots, history and the files table)', () => {
    const reading = readStoredRow(stored({ deleted: 1, labels: '["a","b"]' }));
    if (!reading.ok) throw new Error(reading.rejected.problem);
    const row: SharedRow = reading.row;
    expect(toStored(row)).toEqual(stored({ deleted: 1, labels: '["a","b"]' }));
    expect(readStoredRow(toStored(row))).toEqual(reading);
    // Fields it does not encode pass through (a local file record's sync bookkeeping, say).
    expect(toStored({ ...row, sync_status: 'modified' })).toMatchObject({ sync_status: 'modified', deleted: 1 });
  });

  it('a missing field is a problem, never a crash', () => {
    for (const field of Object.keys(stored())) {
      if (field === 'mime_type') continue; // never read: derived from the filename
      const row = stored();
      delete row[field];
      expect(readStoredRow(row).ok, field).toBe(false);
    }
  });

  it('the MIME type is derived from the filename, whatever the row says', () => {
    const reading = readStoredRow(stored({ filename: 'notes.txt', file_type: 'txt', mime_type: 'text/html' }));
    expect(reading.ok && reading.row.mime_type).toBe('text/plain');
    const odd = readStoredRow(stored({ filename: 'page', file_type: 'bin', mime_type: 'text/html' }));
    expect(odd.ok && odd.row.mime_type).toBe('application/octet-stream');
  });

  it('decoded rows (a stored conflict, a journal entry) pass the same checks', () => {
    const decoded = { ...stored(), collections: ['c'], labels: [], metadata: {}, deleted: false };
    expect(sharedRowProblem(decoded)).toBeUndefined();
    expect(sharedRowProblem({ ...decoded, deleted: 0 })).toMatch(/^deleted/);
    expect(sharedRowProblem({ ...decoded, collections: 'not json' })).toMatch(/^collections/);
    expect(readSharedRow({ ...decoded, stable_id: '../x' }).ok).toBe(false);
  });

  it('a rejected row names its id printably: escaped, shortened', () => {
    const reading = readStoredRow(stored({ stable_id: `evil\nid\u2028${'x'.repeat(300)}`, collections: 'not json' }));
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    expect(reading.rejected.problem).toBe('collections is not JSON');
    expect(reading.rejected.id).not.toMatch(/[\n\u2028]/);
    expect(reading.rejected.id.length).toBeLessThan(60);
    expect(reading.rejected.id).toContain('evil\\nid\\u2028');
    expect(describeRejected([reading.rejected, reading.rejected, reading.rejected, reading.rejected], 2)).toMatch(
      /^".*: collections is not JSON; ".*: collections is not JSON; and 2 more$/,
    );
  });
});
