import type { DocFile, FileList } from './api-types.ts';

/** Rows per request: a jump far down costs one request of this size. */
export const PAGE = 100;
/** Pages kept in memory: scrolling through 100,000 files must not keep 100,000 rows. */
const KEEP_PAGES = 30;
/** Rows per request when a shift-click range runs over rows never loaded. */
const RANGE_CHUNK = 1000;

export type PageFetch = (page: { cursor?: string; offset?: number; limit: number }) => Promise<FileList>;

/**
 * The rows of a list too long to load whole, by position: page k holds rows k*PAGE… and is fetched
 * by the cursor page k-1 ended with when that is known (keyset: cheap at any depth, no row skipped
 * or repeated), else by offset (a jump far down, a scrollbar dragged). Pages far from what is shown
 * are dropped. New filters, a new sort or a refresh make a new one (the caller drops the old one's answers).
 */
export class RowPages {
  total = 0;
  private pages = new Map<number, DocFile[]>();
  /** Page k's cursor: the `next_cursor` page k-1 ended with. */
  private cursors = new Map<number, string>();
  private inFlight = new Map<number, Promise<void>>();

  constructor(private readonly fetch: PageFetch) {}

  get(index: number): DocFile | undefined {
    return this.pages.get(Math.floor(index / PAGE))?.[index % PAGE];
  }

  /** Whether the rows `from`…`to - 1` are all loaded. */
  has(from: number, to: number): boolean {
    for (let page = Math.floor(from / PAGE); page * PAGE < to; page++) if (!this.pages.has(page)) return false;
    return true;
  }

  /**
   * Loads the pages holding rows `from`…`to - 1` (at least the first page, which says the total).
   * Resolves with the files newly loaded.
   */
  async load(from: number, to: number): Promise<DocFile[]> {
    const wanted: number[] = [];
    for (let page = Math.floor(from / PAGE); page === Math.floor(from / PAGE) || page * PAGE < to; page++) wanted.push(page);
    const added: DocFile[] = [];
    await Promise.all(
      wanted.map((page) => {
        if (this.pages.has(page)) return undefined;
        let pending = this.inFlight.get(page);
        if (!pending) {
          pending = this.fetchPage(page, added).finally(() => this.inFlight.delete(page));
          this.inFlight.set(page, pending);
        }
        return pending;
      }),
    );
    this.evict(wanted[0]!);
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

  private async fetchPage(page: number, added: DocFile[]): Promise<void> {
    const cursor = this.cursors.get(page);
    const answer = await this.fetch({ limit: PAGE, ...(page === 0 ? {} : cursor ? { cursor } : { offset: page * PAGE }) });
    this.pages.set(page, answer.files);
    this.total = answer.total;
    if (answer.next_cursor) this.cursors.set(page + 1, answer.next_cursor);
    added.push(...answer.files);
  }

  /** Drops the pages farthest from `near` beyond the ones kept (their cursors stay: small, and they make the way back cheap). */
  private evict(near: number): void {
    if (this.pages.size <= KEEP_PAGES) return;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
    for (const page of far.slice(0, this.pages.size - KEEP_PAGES)) this.pages.delete(page);
  }
}
