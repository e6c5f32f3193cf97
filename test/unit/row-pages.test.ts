import { describe, expect, it } from 'vitest';
import type { DocFile, FileList } from '../../web/src/api-types.ts';
import { RowPages, type PageFetch } from '../../web/src/row-pages.ts';

/**
 * The long list's rows by position (web/src/row-pages.ts): what each load asks the server for. A jump
 * asks for the rows the viewport needs by offset; going on from loaded rows asks for a page, by the
 * keyset cursor going down; every row lands at its position, none skipped or repeated.
 */
function list(size: number): { pages: RowPages; calls: Array<Parameters<PageFetch>[0]> } {
  const files = Array.from({ length: size }, (_, i) => ({ stable_id: `f${i}` }) as DocFile);
  const calls: Array<Parameters<PageFetch>[0]> = [];
  // Keyset like the server's: the cursor names where the next page starts.
  const pages = new RowPages(async (page) => {
    calls.push(page);
    const start = page.cursor !== undefined ? Number(page.cursor) : (page.offset ?? 0);
    const slice = files.slice(start, start + page.limit);
    const end = start + slice.length;
    return { files: slice, total: size, next_cursor: end < size ? String(end) : null } as FileList;
  });
  return { pages, calls };
}

const idsAt = (pages: RowPages, from: number, to: number) => Array.from({ length: to - from }, (_, i) => pages.get(from + i)?.stable_id);
const expected = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `f${from + i}`);

describe('RowPages', () => {
  it('loads the top as one page, then goes on down by cursor, a page at a time', async () => {
    const { pages, calls } = list(10_000);
    await pages.load(0, 100);
    expect(calls).toEqual([{ limit: 100 }]);
    expect(pages.total).toBe(10_000);
    await pages.load(90, 140);
    expect(calls[1]).toEqual({ limit: 100, cursor: '100' });
    expect(idsAt(pages, 0, 200)).toEqual(expected(0, 200));
  });

  it('a jump asks for the blocks the viewport needs by offset; small steps down go on by cursor, up by a page of offset', async () => {
    const { pages, calls } = list(100_000);
    await pages.load(0, 100);
    // Rows 50,003…50,044 (a viewport and its buffer): blocks 5,000…5,004, one request of 50 rows.
    await pages.load(50_003, 50_045);
    expect(calls[1]).toEqual({ limit: 50, offset: 50_000 });
    expect(idsAt(pages, 50_000, 50_050)).toEqual(expected(50_000, 50_050));
    expect(pages.get(49_999)).toBeUndefined();
    // A step down: from the cursor the jump ended with, a page.
    await pages.load(50_017, 50_059);
    expect(calls[2]).toEqual({ limit: 100, cursor: '50050' });
    expect(idsAt(pages, 50_000, 50_150)).toEqual(expected(50_000, 50_150));
    // A step up: no cursor goes up; a page upward by offset, ending where the loaded rows begin.
    await pages.load(49_985, 50_027);
    expect(calls[3]).toEqual({ limit: 100, offset: 49_900 });
    expect(idsAt(pages, 49_900, 50_150)).toEqual(expected(49_900, 50_150));
    // Rows loaded are not asked for again.
    await pages.load(49_950, 50_100);
    expect(calls).toHaveLength(4);
  });

  it('asks once for blocks already on their way, and stops a page at the list end', async () => {
    const { pages, calls } = list(1_234);
    await pages.load(0, 100);
    const both = await Promise.all([pages.load(600, 640), pages.load(610, 650)]);
    expect(calls.slice(1)).toEqual([{ limit: 40, offset: 600 }, { limit: 10, offset: 640 }]);
    expect(both[0].map((f) => f.stable_id)).toEqual(expected(600, 640));
    await pages.load(1_200, 1_234);
    expect(calls.at(-1)).toEqual({ limit: 40, offset: 1_200 });
    expect(idsAt(pages, 1_200, 1_234)).toEqual(expected(1_200, 1_234));
    expect(pages.get(1_234)).toBeUndefined();
  });

  it('keeps a bounded number of rows: far ones are dropped and asked for again', async () => {
    const { pages, calls } = list(100_000);
    for (let at = 0; at < 100_000; at += 5_000) await pages.load(at, at + 40);
    expect(pages.get(95_000)?.stable_id).toBe('f95000');
    const before = calls.length;
    // 20 jumps of 40 rows: 800 rows, under the bound: all still there.
    expect(pages.get(0)?.stable_id).toBe('f0');
    for (let at = 0; at < 4_000; at += 10) await pages.load(at, at + 10);
    // Rows 0…3,999 loaded since (by cursor from the top): the jumps' rows farthest away were dropped.
    expect(pages.get(95_000)).toBeUndefined();
    expect(calls.length).toBeGreaterThan(before);
    await pages.load(95_000, 95_040);
    expect(pages.get(95_000)?.stable_id).toBe('f95000');
  });
});
