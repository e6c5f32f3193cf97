import { describe, expect, it } from 'vitest';
import {
  fileTypeOf,
  filenameProblem,
  normalizeTags,
  statusAfterLocalChange,
  statusAfterLocalDelete,
} from '../../src/domain/file.ts';
import { isStableId, newStableId, seededIdSource, STABLE_ID_ALPHABET } from '../../src/domain/ids.ts';
import { isoUtc, ManualClock } from '../../src/domain/clock.ts';

describe('file types', () => {
  it.each([
    ['paper.pdf', 'pdf'],
    ['Paper.PDF', 'pdf'],
    ['doc.tei.xml', 'tei.xml'],
    ['doc.TEI.XML', 'tei.xml'],
    ['doc.xml', 'xml'],
    ['archive.tar.gz', 'tar.gz'],
    ['notes.txt', 'txt'],
    ['README', 'bin'],
    ['../../etc/passwd', 'bin'],
    ['weird.ext with space', 'bin'],
    ['trailing.', 'bin'],
    ['emoji.😀', 'bin'],
  ])('%s → %s', (name, type) => {
    expect(fileTypeOf(name)).toBe(type);
  });
});

describe('stable ids', () => {
  it('are 12 characters of the unambiguous alphabet', () => {
    const ids = seededIdSource(42);
    for (let i = 0; i < 500; i++) {
      const id = newStableId(ids);
      expect(id).toHaveLength(12);
      for (const c of id) expect(STABLE_ID_ALPHABET).toContain(c);
      expect(isStableId(id)).toBe(true);
    }
    expect(STABLE_ID_ALPHABET).not.toMatch(/[01ilo]/);
  });

  it('repeat exactly for the same seed and differ across seeds', () => {
    const run = (seed: number) => Array.from({ length: 5 }, ((ids) => () => newStableId(ids))(seededIdSource(seed)));
    expect(run(9)).toEqual(run(9));
    expect(run(9)).not.toEqual(run(10));
    expect(seededIdSource(3).uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('reject strings outside the alphabet', () => {
    expect(isStableId('abc')).toBe(false);
    expect(isStableId('../../etc/pw')).toBe(false);
    expect(isStableId('0000000000oo')).toBe(false);
  });
});

describe('status transitions', () => {
  it('local changes make a file modified unless it is in conflict', () => {
    expect(statusAfterLocalChange('synced')).toBe('modified');
    expect(statusAfterLocalChange('modified')).toBe('modified');
    expect(statusAfterLocalChange('conflict')).toBe('conflict');
    expect(statusAfterLocalDelete('synced')).toBe('pending_delete');
    expect(statusAfterLocalDelete('modified')).toBe('pending_delete');
    expect(statusAfterLocalDelete('conflict')).toBe('conflict');
  });
});

describe('names and tags', () => {
  it('accepts path-like names as data but not control characters', () => {
    expect(filenameProblem('../../etc/passwd')).toBeUndefined();
    expect(filenameProblem('résumé – 日本語.pdf')).toBeUndefined();
    expect(filenameProblem('a\u0000b')).toMatch(/control/);
    expect(filenameProblem('line\nbreak')).toMatch(/control/);
    expect(filenameProblem('   ')).toMatch(/empty/);
  });

  it('normalizes tags: trimmed, no empties, no duplicates, order kept', () => {
    expect(normalizeTags([' b', 'a', 'b', '', '  ', 'a '])).toEqual(['b', 'a']);
  });
});

describe('clock', () => {
  it('formats UTC with Z and moves only when told', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(isoUtc(clock.now())).toBe('2026-01-02T03:04:05.000Z');
    clock.advance(1500);
    expect(isoUtc(clock.now())).toBe('2026-01-02T03:04:06.500Z');
  });
});
