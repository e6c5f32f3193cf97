import type { DocFile, FileList } from './api-types.ts';

/** Rows kept and asked for together: a jump asks for the blocks the viewport needs, not a page. */
export const BLOCK = 10;
/** Rows per request when the list goes on from rows loaded (its top, a scroll down or up): fewer requests. */
export const PAGE = 100;
/** Blocks kept in memory: scrolling through 100,000 files must not keep 100,000 rows. */
const KEEP_BLOCKS = 300;
/** Rows per request when a shift-click range runs over rows never loaded. */
const RANGE_CHUNK = 1000;

export type PageFetch = (page: { cursor?: string; offset?: number; limit: number }) => Promise<FileList>;

/**
 * The rows of a list too long to load whole, by position: block k holds rows k*BLOCK…, and one
 * request loads a run of blocks. A run goes on by the cursor the run above it ended with when that is
 * known (keyset: cheap at any depth, no row skipped or repeated), else by offset. A jump (a scrollbar
 * dragged) asks for the blocks the viewport needs and no more: its rows are the ones waited for. A run
 * next to rows already loaded (the list's top, a scroll down or up) asks for a PAGE, so small steps
 * cost few requests. Blocks far from what is shown are dropped. New filters, a new sort or a refresh
 * make a new one (the caller drops the old one's answers).
 */
export class RowPages {
  total = 0;
  private blocks = new Map<number, DocFile[]>();
  /** Block k's cursor: the `next_cursor` of the run that ended with block k-1. */
  private cursors = new Map<number, string>();
  private inFlight = new Map<number, Promise<void>>();

  constructor(private readonly fetch: PageFetch) {}

  get(index: number): DocFile | undefined {
    return this.blocks.get(Math.floor(index / BLOCK))?.[index % BLOCK];
  }

  /** The position of the file with this id among the rows loaded, if it is there. */
  indexOf(id: string): number | undefined {
    for (const [block, files] of this.blocks) {
      const at = files.findIndex((file) => file.stable_id === id);
      if (at >= 0) return block * BLOCK + at;
    }
    return undefined;
  }

  /** Whether the rows `from`…`to - 1` are all loaded. */
  has(from: number, to: number): boolean {
    for (let block = Math.floor(from / BLOCK); block * BLOCK < to; block++) if (!this.blocks.has(block)) return false;
    return true;
  }

  /**
   * Loads the blocks holding rows `from`…`to - 1` (at least the first block, whose answer says the
   * total). Resolves with the files newly loaded.
   */
  async load(from: number, to: number): Promise<DocFile[]> {
    const first = Math.floor(from / BLOCK);
    const last = Math.max(first, Math.ceil(to / BLOCK) - 1);
    const free = (block: number) => block >= 0 && !this.blocks.has(block) && !this.inFlight.has(block);
    const added: DocFile[] = [];
    const waits: Promise<void>[] = [];
    for (let block = first; block <= last; block++) {
      if (this.blocks.has(block)) continue;
      const pending = this.inFlight.get(block);
      if (pending) {
        waits.push(pending);
        continue;
      }
      let start = block;
      let end = block;
      while (end < last && free(end + 1)) end++;
      const ahead = PAGE / BLOCK;
      if (start === 0 || this.cursors.has(start)) {
        // Going on down from loaded rows (or the top): a whole page, the next steps find it there.
        while (end - start + 1 < ahead && (this.total === 0 || (end + 1) * BLOCK < this.total) && free(end + 1)) end++;
      } else if (this.blocks.has(end + 1)) {
        // Going up from loaded rows: a whole page upward.
        while (end - start + 1 < ahead && free(start - 1)) start--;
      }
      const request = this.fetchRun(start, end, added);
      const settled = request.finally(() => {
        for (let b = start; b <= end; b++) if (this.inFlight.get(b) === settled) this.inFlight.delete(b);
      });
      for (let b = start; b <= end; b++) this.inFlight.set(b, settled);
      waits.push(settled);
      block = end;
    }
    await Promise.all(waits);
    this.evict(first);
    return added;
  }

  /** The ids of rows `from`…`to` (inclusive) in order, fetching what is not loaded (a shift-click range). */
  async ids(from: number, to: number): Promise<string[]> {
    const ids: string[] = [];
    let index = from;
    while (index <= to) {
      const file = this.get(index);
      if (file) {
        ids.push(file.stable_id);
        index++;
        continue;
      }
      const page = await this.fetch({ offset: index, limit: Math.min(RANGE_CHUNK, to - index + 1) });
      if (page.files.length === 0) break;
      ids.push(...page.files.map((f) => f.stable_id));
      index += page.files.length;
    }
    return ids;
  }

  /** Loads blocks `start`…`end` in one request. */
  private async fetchRun(start: number, end: number, added: DocFile[]): Promise<void> {
    const cursor = this.cursors.get(start);
    const limit = (end - start + 1) * BLOCK;
    const answer = await this.fetch({ limit, ...(start === 0 ? {} : cursor ? { cursor } : { offset: start * BLOCK }) });
    for (let block = start; block <= end; block++) {
      const at = (block - start) * BLOCK;
      // A block past the list's end holds nothing: it is loaded all the same (nothing to ask for).
      this.blocks.set(block, answer.files.slice(at, at + BLOCK));
    }
    this.total = answer.total;
    if (answer.next_cursor) this.cursors.set(end + 1, answer.next_cursor);
    added.push(...answer.files);
  }

  /** Drops the blocks farthest from `near` beyond the ones kept (their cursors stay: small, and they make the way back cheap). */
  private evict(near: number): void {
    if (this.blocks.size <= KEEP_BLOCKS) return;
    const far = [...this.blocks.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
    for (const block of far.slice(0, this.blocks.size - KEEP_BLOCKS)) this.blocks.delete(block);
  }
}
