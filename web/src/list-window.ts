import { h } from './dom.ts';

/** Rows built beyond each edge of the viewport: a short scroll or a Tab finds its row already there. */
const BUFFER = 12;
const COLUMNS = 8;

export interface WindowRows {
  /** How many rows the list has. */
  total(): number;
  /** Row `index`'s element (the same element while its data is the same), or undefined when it is not loaded. */
  row(index: number): HTMLTableRowElement | undefined;
  /** Whether rows `from`…`to - 1` are all loaded. */
  has(from: number, to: number): boolean;
  /** Rows `from`…`to - 1` are about to show: load what is missing, then call `paint()` again. */
  need(from: number, to: number): void;
}

/**
 * A windowed table: the document is as tall as every row would make it (`wrap` gets the height),
 * but the body holds only the rows near the viewport, and the table is moved down into place (its
 * header with it: above the viewport by then, as it would be in a full table). Rows are
 * one height (the stylesheet keeps each on one line), measured on the first row built. Rows not
 * loaded yet show as empty placeholders of that height. Rows that stay in the window stay the same
 * elements (never rebuilt or moved), so focus, an open row menu and a checkbox survive scrolling.
 */
export class ListWindow {
  /** The rows built at the last paint: `[first, last)`. */
  shown: [number, number] = [0, 0];
  private rowHeight = 0;
  /** The header's height, measured with the rows': a paint reads the layout once (the list's place). */
  private headHeight = 0;
  private scheduled = false;
  /** The rows built (loaded, not placeholders) at the last paint, by index. */
  private built = new Set<number>();
  /** The row holding the keyboard focus: the rows around it stay built while it is near the viewport. */
  private focusIndex: number | undefined;

  constructor(
    private readonly wrap: HTMLElement,
    private readonly table: HTMLTableElement,
    private readonly tbody: HTMLTableSectionElement,
    private readonly rows: WindowRows,
  ) {
    // Now, not at the next frame: a Tab pressed right after this one must find the next row built.
    tbody.addEventListener('focusin', (event) => {
      const row = (event.target as Element).closest('tr');
      this.focusIndex = row ? Number(row.getAttribute('aria-rowindex')) - 2 : undefined;
      this.paint();
    });
    tbody.addEventListener('focusout', (event) => {
      if (!tbody.contains(event.relatedTarget as Node | null)) this.focusIndex = undefined;
    });
  }

  /** Paints at the next frame (scroll and resize events come faster than frames). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      if (this.wrap.isConnected) this.paint();
    });
  }

  /** Builds the rows the viewport shows now (plus the buffer), asking for the ones not loaded. */
  paint(): void {
    const total = this.rows.total();
    this.table.setAttribute('aria-rowcount', String(total + 1));
    const height = this.rowHeight || 48;
    const head = this.headHeight;
    // A list below the viewport (or above it) keeps its first (or last) rows built: Tab from the
    // filters reaches the first row, and scrolling down finds it there.
    const top = Math.max(0, Math.min(total * height - window.innerHeight, -this.wrap.getBoundingClientRect().top - head));
    const viewFirst = Math.max(0, Math.min(total, Math.floor(top / height)));
    const viewLast = Math.max(viewFirst, Math.min(total, Math.ceil((top + window.innerHeight) / height)));
    let first = Math.max(0, viewFirst - BUFFER);
    let last = Math.min(total, viewLast + BUFFER);
    const focus = this.focusIndex;
    if (focus !== undefined && focus >= first - BUFFER && focus < last + BUFFER) {
      first = Math.max(0, Math.min(first, focus - BUFFER));
      last = Math.min(total, Math.max(last, focus + BUFFER + 1));
    }
    // Loaded rows the viewport shows that were not built at the last paint (a jump's rows arriving, a
    // long scroll): this frame builds the viewport's rows and keeps the built ones next to them; the
    // buffer comes at the next frame. A jump so lays out half the rows before the ones looked for show.
    const wanted: HTMLTableRowElement[] = [];
    const buffered: [number, number] = [first, last];
    let fresh = false;
    for (let index = viewFirst; index < viewLast && !fresh; index++) fresh = !this.built.has(index) && this.rows.has(index, index + 1);
    if (fresh && this.rowHeight) {
      first = viewFirst;
      while (first > buffered[0] && this.built.has(first - 1)) first--;
      last = viewLast;
      while (last < buffered[1] && this.built.has(last)) last++;
    }
    let missing = false;
    const built = new Set<number>();
    for (let index = first; index < last; index++) {
      const row = this.rows.row(index);
      if (row) {
        row.setAttribute('aria-rowindex', String(index + 2));
        built.add(index);
      } else {
        missing = true;
      }
      wanted.push(row ?? this.placeholder(height));
    }
    this.built = built;
    // The buffer's rows too: one request for what this frame and the next show. Asked before the
    // rows go in (a jump's request leaves first), once the row height, and so the range, is known.
    const ask = missing || !this.rows.has(...buffered);
    if (ask && this.rowHeight) this.rows.need(...buffered);
    this.reconcile(wanted);
    this.shown = [first, last];
    if (!this.rowHeight) {
      const measured = this.tbody.querySelector<HTMLElement>('tr:not(.placeholder)')?.offsetHeight;
      if (measured) {
        this.rowHeight = measured;
        this.headHeight = this.table.tHead?.offsetHeight ?? 0;
        this.paint();
        return;
      }
    }
    // The table moves, not the body: a transformed table section made every jump's frame slower.
    this.table.style.top = `${first * height}px`;
    this.wrap.style.height = `${head + total * height}px`;
    if (ask && !this.rowHeight) this.rows.need(...buffered);
    if (first > buffered[0] || last < buffered[1]) this.schedule();
  }

  /** The row height changes with the layout (phone width): measured again at the next paint. */
  remeasure(): void {
    this.rowHeight = 0;
    this.schedule();
  }

  /**
   * Makes the body hold `wanted`, in order, without moving an element that stays: first the
   * leaving rows go, then each wanted one goes in before the first one already there after it.
   */
  private reconcile(wanted: HTMLTableRowElement[]): void {
    const keep = new Set(wanted);
    for (const row of [...this.tbody.rows]) if (!keep.has(row)) row.remove();
    let at: ChildNode | null = this.tbody.firstChild;
    for (const row of wanted) {
      if (row === at) at = at.nextSibling;
      else this.tbody.insertBefore(row, at);
    }
  }

  private placeholder(height: number): HTMLTableRowElement {
    const row = h('tr', { class: 'placeholder', 'aria-hidden': 'true' }, h('td', { colspan: COLUMNS }));
    row.style.height = `${height}px`;
    return row;
  }
}
