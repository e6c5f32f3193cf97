import { api } from './api.ts';
import type { DocFile, FileFilters } from './api-types.ts';
import { confirmAction, editFile } from './dialogs.ts';
import { busy, byId, fill, formatBytes, formatDate, h, plural } from './dom.ts';
import { errorMessage, notify, showError } from './notify.ts';

const PAGE = 100;
const MAX_PAGE = 1000;
const STATUS_TEXT: Record<DocFile['sync_status'], string> = {
  synced: 'Synced',
  modified: 'Not synced yet',
  pending_delete: 'Deletion not synced yet',
  conflict: 'Conflict',
};

/**
 * The file list: filters (collection, label, part of the name), pages of 100 with "Load more",
 * edit and delete per row. `refresh()` reloads what is shown (after uploads, syncs, SSE events)
 * and keeps the keyboard focus where it was.
 */
export class FilesView {
  private filters: FileFilters = { collection: '', label: '', q: '' };
  private files: DocFile[] = [];
  private total = 0;
  private nextCursor: string | null = null;
  private loaded = false;
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
  /** A file's name was clicked: open its pane (a modified click still opens the content in a tab). */
  onOpen: (file: DocFile) => void = () => undefined;

  constructor() {
    const form = byId<HTMLFormElement>('filters');
    const { inputs } = this;
    const apply = () => {
      clearTimeout(this.debounce);
      this.filters = { q: inputs.q.value.trim(), collection: inputs.collection.value.trim(), label: inputs.label.value.trim() };
      byId<HTMLButtonElement>('clear-filters').disabled = !this.hasFilters();
      this.onFiltersChange();
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
    const more = byId<HTMLButtonElement>('load-more');
    more.addEventListener('click', () => void busy(more, () => this.loadMore()));
  }

  get uploadTarget(): { collections?: string[]; labels?: string[] } {
    return {
      ...(this.filters.collection && { collections: [this.filters.collection] }),
      ...(this.filters.label && { labels: [this.filters.label] }),
    };
  }

  setFilters(filters: Partial<FileFilters>): void {
    for (const key of ['q', 'collection', 'label'] as const) {
      if (filters[key] !== undefined) this.inputs[key].value = filters[key];
    }
    byId<HTMLFormElement>('filters').requestSubmit();
  }

  clear(): void {
    this.files = [];
    this.loaded = false;
    fill(byId('file-list'));
    byId('list-summary').textContent = '';
  }

  /** Reloads the first page (as many rows as are shown, so "Load more" is not undone). */
  async refresh(options: { reset?: boolean } = {}): Promise<void> {
    const seq = ++this.requestSeq;
    const limit = options.reset ? PAGE : Math.min(MAX_PAGE, Math.max(PAGE, this.files.length));
    try {
      const page = await api.listFiles(this.filters, { limit });
      if (seq !== this.requestSeq) return;
      this.files = page.files;
      this.total = page.total;
      this.nextCursor = page.next_cursor;
      this.loaded = true;
      showError(byId('list-error'), null);
      this.render();
    } catch (error) {
      if (seq !== this.requestSeq) return;
      showError(byId('list-error'), `Could not load the files: ${errorMessage(error)}`);
    }
  }

  private async loadMore(): Promise<void> {
    if (!this.nextCursor) return;
    const seq = ++this.requestSeq;
    try {
      const page = await api.listFiles(this.filters, { cursor: this.nextCursor, limit: PAGE });
      if (seq !== this.requestSeq) return;
      const seen = new Set(this.files.map((file) => file.stable_id));
      this.files.push(...page.files.filter((file) => !seen.has(file.stable_id)));
      this.total = page.total;
      this.nextCursor = page.next_cursor;
      this.render();
    } catch (error) {
      notify(`Could not load more files: ${errorMessage(error)}`, 'error');
    }
  }

  private hasFilters(): boolean {
    return Boolean(this.filters.q || this.filters.collection || this.filters.label);
  }

  private render(): void {
    const focusKey = (document.activeElement as HTMLElement | null)?.dataset?.focusKey;
    this.rememberTags();
    const list = byId('file-list');
    const summary = byId('list-summary');
    byId('load-more').hidden = !this.nextCursor;
    if (this.files.length === 0) {
      summary.textContent = '';
      fill(list, this.emptyState());
    } else {
      summary.textContent =
        this.total === this.files.length ? plural(this.total, 'file') : `${this.files.length} of ${this.total} files`;
      const headings = ['Name', 'Collections', 'Labels', 'Size', 'Modified'].map((title) => h('th', { scope: 'col' }, title));
      const actions = h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'));
      fill(
        list,
        h(
          'table',
          { class: 'files' },
          h('caption', { class: 'visually-hidden' }, 'Files'),
          h('thead', {}, h('tr', {}, ...headings, actions)),
          h('tbody', {}, ...this.files.map((file) => this.row(file))),
        ),
      );
    }
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

  private row(file: DocFile): HTMLTableRowElement {
    const id = file.stable_id;
    const name = file.filename;
    const status = file.sync_status !== 'synced' && h('span', { class: `status status-${file.sync_status}` }, STATUS_TEXT[file.sync_status]);
    const docId = file.doc_id && h('span', {}, `doc ${file.doc_id}`);
    return h(
      'tr',
      { 'data-id': id },
      h(
        'td',
        { class: 'name-cell' },
        h('a', { class: 'filename', href: api.contentUrl(id), target: '_blank', rel: 'noopener', 'data-focus-key': `open:${id}`, onclick: (event: Event) => openPane(event, () => this.onOpen(file)) }, name),
        h('div', { class: 'file-meta' }, h('span', { class: 'type' }, file.file_type), docId, status),
      ),
      h('td', { class: 'tags-cell' }, this.chips(file.collections, 'collection')),
      h('td', { class: 'tags-cell' }, this.chips(file.labels, 'label')),
      h('td', { class: 'num' }, formatBytes(file.size)),
      h('td', { class: 'date' }, h('time', { datetime: file.updated_at }, formatDate(file.updated_at))),
      h(
        'td',
        { class: 'actions' },
        h(
          'div',
          { class: 'action-buttons' },
          h(
            'a',
            { class: 'button', href: api.contentUrl(id), download: name, 'aria-label': `Download ${name}`, 'data-focus-key': `download:${id}` },
            'Download',
          ),
          h(
            'button',
            { type: 'button', 'aria-label': `Edit collections and labels of ${name}`, 'data-focus-key': `edit:${id}`, onclick: () => void this.edit(file) },
            'Edit',
          ),
          h(
            'button',
            { type: 'button', 'aria-label': `History of ${name}`, 'data-focus-key': `history:${id}`, onclick: () => this.onHistory(file) },
            'History',
          ),
          h(
            'button',
            { type: 'button', class: 'danger-text', 'aria-label': `Delete ${name}`, 'data-focus-key': `delete:${id}`, onclick: () => void this.remove(file) },
            'Delete',
          ),
        ),
      ),
    );
  }

  private chips(values: string[], kind: 'collection' | 'label'): HTMLElement | string {
    if (values.length === 0) return h('span', { class: 'muted' }, '–');
    return h(
      'ul',
      { class: 'chips' },
      ...values.map((value) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: `chip chip-${kind}`, title: `Show only files with ${kind} “${value}”`, onclick: () => this.setFilters({ [kind]: value }) },
            value,
          ),
        ),
      ),
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

  private rememberTags(): void {
    for (const file of this.files) {
      for (const value of file.collections) this.knownCollections.add(value);
      for (const value of file.labels) this.knownLabels.add(value);
    }
    const options = (values: Set<string>) => [...values].sort().map((value) => h('option', { value }));
    fill(byId('known-collections'), ...options(this.knownCollections));
    fill(byId('known-labels'), ...options(this.knownLabels));
  }
}

/** A plain click (or Enter) on a file's name opens its pane; Ctrl/Cmd/Shift/middle click keep the link's new tab. */
function openPane(event: Event, open: () => void): void {
  const click = event as MouseEvent;
  if (click.button !== 0 || click.ctrlKey || click.metaKey || click.shiftKey || click.altKey) return;
  event.preventDefault();
  open();
}
