/** The page's line diff for conflicts (web/src/line-diff.ts): aligned, paired, folded, bounded. */
import { describe, expect, it } from 'vitest';
import { lineDiff, type DiffRow } from '../../web/src/line-diff.ts';

const show = (rows: DiffRow[]) =>
  rows.map((row) => (row.kind === 'skipped' ? `~${row.count}` : `${row.kind[0]} ${row.left?.n ?? '-'}:${row.left?.text ?? ''} | ${row.right?.n ?? '-'}:${row.right?.text ?? ''}`));

describe('lineDiff', () => {
  it('pairs a changed line and keeps the lines around it aligned', () => {
    expect(show(lineDiff('a\nb\nc\n', 'a\nB\nc\n'))).toEqual(['s 1:a | 1:a', 'c 2:b | 2:B', 's 3:c | 3:c']);
  });

  it('shows inserted and removed lines on their own side only', () => {
    expect(show(lineDiff('a\nc', 'a\nb\nc'))).toEqual(['s 1:a | 1:a', 'a -: | 2:b', 's 2:c | 3:c']);
    expect(show(lineDiff('a\nb\nc', 'a\nc'))).toEqual(['s 1:a | 1:a', 'r 2:b | -:', 's 3:c | 2:c']);
  });

  it('aligns moved blocks by their longest common subsequence', () => {
    const rows = lineDiff('x\n1\n2\n3\ny', 'z\n1\n2\n3\nw');
    expect(rows.filter((r) => r.kind === 'same').map((r) => r.left?.text)).toEqual(['1', '2', '3']);
    expect(rows.filter((r) => r.kind === 'changed')).toHaveLength(2);
  });

  it('folds long unchanged runs, keeping three lines of context', () => {
    const before = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    const after = [...before];
    after[25] = 'changed';
    const rows = show(lineDiff(before.join('\n'), after.join('\n')));
    expect(rows).toEqual(['~22', 's 23:line 22 | 23:line 22', 's 24:line 23 | 24:line 23', 's 25:line 24 | 25:line 24', 'c 26:line 25 | 26:changed', 's 27:line 26 | 27:line 26', 's 28:line 27 | 28:line 27', 's 29:line 28 | 29:line 28', '~21']);
  });

  it('equal texts are one folded run; CRLF and LF lines compare equal', () => {
    expect(show(lineDiff('a\r\nb\r\n', 'a\nb\n'))).toEqual(['~2']);
  });

  it('falls back to removed-then-added past its memory bound, still complete', () => {
    const a = Array.from({ length: 1500 }, (_, i) => `a${i}`).join('\n');
    const b = Array.from({ length: 1500 }, (_, i) => `b${i}`).join('\n');
    const rows = lineDiff(a, b);
    expect(rows).toHaveLength(1500);
    expect(rows.every((r) => r.kind === 'changed')).toBe(true);
  });
});
