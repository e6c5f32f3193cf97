import { api } from './api.ts';
import type { DocFile, FileFilters, FileSort } from './api-types.ts';
import { BulkBar } from './bulk-bar.ts';
import { confirmAction, editFile } from './dialogs.ts';
import { byId, fill, h } from './dom.ts';
import { ListWindow } from './list-window.ts';
import { errorMessage, notify, showError } from './notify.ts';
import { fileRow } from './file-row.ts';
import { PAGE, RowPages } from './row-pages.ts';

/** The sortable columns, in table order, with the direction a first click sorts by. */
const SORTABLE: Array<{ key: FileSort; title: string; first: 'asc' | 'desc'; class?: string }> = [
  { key: 'name', title: 'Name', first: 'asc' },
  { key: 'type', title: 'Type', first: 'asc', class: 'col-type' },
];
const SORTABLE_END: Array<{ key: FileSort; title: string; first: 'asc' | 'desc'; class?: string }> = [
  { key: 'size', title: 'Size', first: 'desc', class: 'col-size' },
  { key: 'modified', title: 'Modified', first: 'desc', class: 'col-date' },
];

/**
 * The file list: filters (collection, label, part of the name), sorting by column, a windowed table
 * (the page is as tall as all the rows, the DOM holds the ones near the viewport; pages of rows are
 * fetched by position as the list scrolls: see RowPages and ListWindow), a selection for bulk
 * actions, and per row edit, history, delete (in a menu at phone width). `refresh()` reloads the
 * rows where the list is (after uploads, syncs, SSE events) and keeps the keyboard focus where it was.
 */
export class FilesView {
  private filters: FileFilters = { collection: '', label: '', q: '' };
  private pages = this.newPages();
  private loaded = false;
  /** Each file's row, built once per loaded version of the file (a refresh loads new versions). */
  private built = new WeakMap<DocFile, HTMLTableRowElement>();
  private window: ListWindow | undefined;
  /** A page that failed to load is asked for again at the next scroll, not at every frame. */
  private loadFailed = false;
  /** Without it: newest first. */
  private sort: { key: FileSort; order: 'asc' | 'desc' } | undefined;
  private readonly bulk: BulkBar;
  private table: HTMLTableElement | undefined;
  /** Answers to older requests are dropped: typing fast must not show stale results. */
  private requestSeq = 0;
  private readonly knownCollections = new Set<string>();
  private readonly knownLabels = new Set<string>();
  private debounce: ReturnType<typeof setTimeout> | undefined;
  private readonly inputs: Record<keyof FileFilters, HTMLInputElement> = {
    q: byId<HTMLInputElement>('filter-q'),
    collection: byId<HTMLInputElement>('filter-collection'),
    label: byId<HTMLInputElement>('filter-label'),
  };

  /** Called after a change made here (edit, delete), so the status badge can follow. */
  onLocalChange: () => void = () => undefined;
  /** The filters changed (uploads go into the filtered collection and label). */
  onFiltersChange: () => void = () => undefined;
  /** History was asked for one file. */
  onHistory: (file: DocFile) => void = () => undefined;
  /**
   * The hook for a single-file pane: when set, a plain click on a filename (and the row menu's
   * "Details") calls it instead of opening the content in a new tab.
   */
  onOpen: ((file: DocFile) => void) | undefined;

  constructor() {
    const form = byId<HTMLFormElement>('filters');
    const { inputs } = this;
    const apply = () => {
      clearTimeout(this.debounce);
      this.filters = { q: inputs.q.value.trim(), collection: inputs.collection.value.trim(), label: inputs.label.value.trim() };
      byId<HTMLButtonElement>('clear-filters').disabled = !this.hasFilters();
      this.onFiltersChange();
      this.bulk.clear();
      void this.refresh({ reset: true });
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      apply();
    });
    form.addEventListener('input', () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(apply, 250);
    });
    byId('clear-filters').addEventListener('click', () => this.setFilters({ q: '', collection: '', label: '' }));
    window.addEventListener('scroll', () => {
      this.loadFailed = false;
      this.window?.schedule();
    }, { passive: true });
    window.addEventListener('resize', () => this.window?.remeasure());
    this.bulk = new BulkBar({
      idsBetween: (from, to) => this.pages.ids(from, to),
      total: () => this.pages.total,
      filters: () => this.filters,
      changed: () => this.paintSelection(),
      done: async () => {
        await this.refresh();
        this.onLocalChange();
      },
    });
  }

  get uploadTarget(): { collections?: string[]; labels?: string[] } {
    return {
      ...(this.filters.collection && { collections: [this.filters.collection] }),
      ...(this.filters.label && { labels: [this.filters.label] }),
    };
  }

  /** The file `step` rows from `file` in the list as it is (loaded when needed); undefined past an end or when `file` is not among the rows loaded. */
  async neighbour(file: DocFile, step: 1 | -1): Promise<DocFile | undefined> {
    const pages = this.pages;
    const index = pages.indexOf(file.stable_id);
    if (index === undefined || index + step < 0 || index + step >= pages.total) return undefined;
    await pages.load(index + step, index + step + 1);
    return pages.get(index + step);
  }

  setFilters(filters: Partial<FileFilters>): void {
    for (const key of ['q', 'collection', 'label'] as const) {
      if (filters[key] !== undefined) this.inputs[key].value = filters[key];
    }
    byId<HTMLFormElement>('filters').requestSubmit();
  }

  clear(): void {
    this.pages = this.newPages();
    this.loaded = false;
    this.window = undefined;
    this.table = undefined;
    fill(byId('file-list'));
    byId('list-summary').textContent = '';
  }

  /** Reloads the rows where the list is (new filters or sort: its top), then shows them in place of the old ones. */
  async refresh(options: { reset?: boolean } = {}): Promise<void> {
    const seq = ++this.requestSeq;
    const pages = this.newPages();
    const [from, to] = options.reset || !this.window ? [0, PAGE] : this.window.shown;
    try {
      const added = await pages.load(from, to);
      if (seq !== this.requestSeq) return;
      this.pages = pages;
      this.loaded = true;
      this.loadFailed = false;
      showError(byId('list-error'), null);
      this.rememberTags(added);
      this.render(options.reset === true);
    } catch (error) {
      if (seq !== this.requestSeq) return;
      showError(byId('list-error'), `Could not load the files: ${errorMessage(error)}`);
    }
  }

  private newPages(): RowPages {
    return new RowPages((page) => api.listFiles(this.filters, { ...page, ...this.sortParams() }));
  }

  /** Rows scrolled into view that are not loaded: their pages are fetched, then painted. */
  private need(from: number, to: number): void {
    if (this.loadFailed) return;
    const pages = this.pages;
    pages.load(from, to).then(
      (added) => {
        if (pages !== this.pages) return;
        this.rememberTags(added);
        this.summarize();
        // Now, not at the next frame: the rows are wanted in the frame that is coming.
        this.window?.paint();
      },
      (error: unknown) => {
        if (pages !== this.pages || this.loadFailed) return;
        this.loadFailed = true;
        notify(`Could not load more files: ${errorMessage(error)}`, 'error');
      },
    );
  }

  /** Row `index`, built when first shown, its box following the selection. */
  private rowAt(index: number): HTMLTableRowElement | undefined {
    const file = this.pages.get(index);
    if (!file) return undefined;
    let row = this.built.get(file);
    if (!row) {
      row = fileRow(file, {
        selected: this.bulk.isSelected(file.stable_id),
        select: (index, checked, range) => void this.bulk.toggle(file.stable_id, index, checked, range),
        open: this.onOpen,
        edit: () => void this.edit(file),
        history: () => this.onHistory(file),
        remove: () => void this.remove(file),
        filter: (kind, value) => this.setFilters({ [kind]: value }),
      });
      this.built.set(file, row);
    } else {
      this.paintRow(row);
    }
    return row;
  }

  private sortParams(): { sort?: FileSort; order?: 'asc' | 'desc' } {
    return this.sort ? { sort: this.sort.key, order: this.sort.order } : {};
  }

  private setSort(key: FileSort, first: 'asc' | 'desc'): void {
    const order = this.sort?.key === key ? (this.sort.order === 'asc' ? 'desc' : 'asc') : first;
    this.sort = { key, order };
    this.bulk.forgetAnchor();
    void this.refresh({ reset: true });
  }

  private summarize(): void {
    const total = this.pages.total;
    const text = total ? `${total.toLocaleString()} ${total === 1 ? 'file' : 'files'}` : '';
    const summary = byId('list-summary');
    if (summary.textContent !== text) summary.textContent = text;
  }

  /** Checkboxes and the bar follow the selection (no rows are rebuilt). */
  private paintSelection(): void {
    for (const row of this.table?.tBodies[0]?.rows ?? []) this.paintRow(row);
    const all = document.getElementById('select-page') as HTMLInputElement | null;
    if (all) {
      const state = this.bulk.state();
      all.checked = state === 'all';
      all.indeterminate = state === 'some';
    }
  }

  private paintRow(row: HTMLTableRowElement): void {
    const box = row.querySelector<HTMLInputElement>('input.select-row');
    if (!box) return;
    box.checked = this.bulk.isSelected(box.value);
    row.classList.toggle('selected', box.checked);
  }

  private header(): HTMLTableRowElement {
    const sortable = (column: (typeof SORTABLE)[number]) => {
      const current = this.sort?.key === column.key ? this.sort.order : undefined;
      return h(
        'th',
        { scope: 'col', class: column.class, 'aria-sort': current ? (current === 'asc' ? 'ascending' : 'descending') : undefined },
        h(
          'button',
          { type: 'button', class: 'sort', 'data-focus-key': `sort:${column.key}`, onclick: () => this.setSort(column.key, column.first) },
          column.title,
          h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, current === 'asc' ? '▲' : current === 'desc' ? '▼' : ''),
        ),
      );
    };
    const selectAll = h('input', {
      type: 'checkbox',
      id: 'select-page',
      'aria-label': 'Select all matching files',
      'data-focus-key': 'select-page',
      onchange: (event: Event) => this.bulk.selectAll((event.target as HTMLInputElement).checked),
    });
    return h(
      'tr',
      { 'aria-rowindex': '1' },
      h('th', { scope: 'col', class: 'col-select' }, selectAll),
      ...SORTABLE.map(sortable),
      h('th', { scope: 'col', class: 'col-tags' }, 'Collections'),
      h('th', { scope: 'col', class: 'col-tags' }, 'Labels'),
      ...SORTABLE_END.map(sortable),
      h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'visually-hidden' }, 'Actions')),
    );
  }

  private hasFilters(): boolean {
    return Boolean(this.filters.q || this.filters.collection || this.filters.label);
  }

  /** Shows the loaded rows: the table is built once and kept (a refresh must not jump the scroll). */
  private render(toTop: boolean): void {
    // Focus inside an open row menu goes back to its button on the new row (the menu closes).
    const active = document.activeElement?.closest('.row-menu')?.querySelector('.menu-button') ?? document.activeElement;
    const focusKey = (active as HTMLElement | null)?.dataset?.focusKey;
    const list = byId('file-list');
    this.summarize();
    if (this.pages.total === 0) {
      this.window = undefined;
      this.table = undefined;
      fill(list, this.emptyState());
    } else if (this.table?.isConnected && this.window) {
      fill(this.table.tHead!, this.header());
    } else {
      const tbody = h('tbody');
      this.table = h('table', { class: 'files' }, h('caption', { class: 'visually-hidden' }, 'Files'), h('thead', {}, this.header()), tbody);
      const wrap = h('div', { class: 'list-window' }, this.table);
      fill(list, wrap);
      this.window = new ListWindow(wrap, this.table, tbody, {
        total: () => this.pages.total,
        row: (index) => this.rowAt(index),
        has: (from, to) => this.pages.has(from, to),
        need: (from, to) => this.need(from, to),
      });
    }
    if (this.window && toTop && list.getBoundingClientRect().top < 0) list.scrollIntoView();
    this.window?.paint();
    this.paintSelection();
    this.bulk.render();
    if (focusKey) list.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  private emptyState(): HTMLElement {
    if (!this.loaded) return h('p', { class: 'empty' }, 'Loading files…');
    if (this.hasFilters()) {
      return h(
        'div',
        { class: 'empty' },
        h('p', {}, 'No files match these filters.'),
        h('button', { type: 'button', onclick: () => this.setFilters({ q: '', collection: '', label: '' }) }, 'Clear filters'),
      );
    }
    return h(
      'div',
      { class: 'empty' },
      h('p', { class: 'empty-title' }, 'No documents yet'),
      h('p', { class: 'muted' }, 'Drop files on this page or choose them above.'),
      h('p', { class: 'muted' }, 'Files added on other instances appear here after a sync.'),
    );
  }

  private async edit(file: DocFile): Promise<void> {
    const updated = await editFile(file);
    if (!updated) return;
    notify(`Saved ${updated.filename}`);
    await this.refresh();
    this.onLocalChange();
  }

  private async remove(file: DocFile): Promise<void> {
    const done = await confirmAction({
      title: 'Delete this file?',
      text: `“${file.filename}” will be deleted here, and on the other instances after the next sync.`,
      ok: 'Delete',
      action: () => api.deleteFile(file.stable_id),
    });
    if (!done) return;
    notify(`Deleted ${file.filename}`);
    await this.refresh();
    this.onLocalChange();
  }

  /** Offers the collections and labels seen so far as the filters' suggestions (rebuilt only when one is new: it runs at every scroll). */
  private rememberTags(files: DocFile[]): void {
    const before = this.knownCollections.size + this.knownLabels.size;
    for (const file of files) {
      for (const value of file.collections) this.knownCollections.add(value);
      for (const value of file.labels) this.knownLabels.add(value);
    }
    if (this.knownCollections.size + this.knownLabels.size === before) return;
    const options = (values: Set<string>) => [...values].sort().map((value) => h('option', { value }));
    fill(byId('known-collections'), ...options(this.knownCollections));
    fill(byId('known-labels'), ...options(this.knownLabels));
  }
}
