import { api } from './api.ts';
import type { DocFile, FileVersion } from './api-types.ts';
import { busy, byId, fill, formatBytes, formatDate, h, plural } from './dom.ts';
import { errorMessage, notify, showError } from './notify.ts';

const TRASH_PAGE = 100;

/** A table with a hidden caption and column headings; the last column holds the actions. */
function table(caption: string, headings: string[], rows: HTMLTableRowElement[]): HTMLTableElement {
  return h(
    'table',
    { class: 'files' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h('tr', {}, ...headings.map((title) => h('th', { scope: 'col' }, title)), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))),
    ),
    h('tbody', {}, ...rows),
  );
}

/**
 * The history of one file, in a modal dialog: every version a sync shared, newest first, with a
 * Restore button on each older version that has content. Escape or Close returns focus to the row.
 */
export class HistoryDialog {
  private file: DocFile | undefined;
  private opener: Element | null = null;
  private readonly dialog = byId<HTMLDialogElement>('history-dialog');

  /** After a restore: the file list and the status badge changed. */
  onRestored: () => void = () => undefined;

  constructor() {
    byId('history-close').addEventListener('click', () => this.close());
    this.dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      this.close();
    });
  }

  async show(file: DocFile): Promise<void> {
    this.file = file;
    this.opener = document.activeElement;
    byId('history-title').textContent = 'History';
    byId('history-filename').textContent = file.filename;
    showError(byId('history-error'), null);
    fill(byId('history-list'), h('p', { class: 'muted' }, 'Loading versions…'));
    byId('history-pending').hidden = true;
    this.dialog.showModal();
    byId('history-close').focus();
    await this.load();
  }

  close(): void {
    this.file = undefined;
    if (this.dialog.open) this.dialog.close();
    const opener = this.opener;
    if (!(opener instanceof HTMLElement)) return;
    // A restore reloads the file list: the button that opened the dialog is then a new element.
    const key = opener.dataset.focusKey;
    const target = opener.isConnected || !key ? opener : document.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
    target?.focus();
  }

  private async load(): Promise<void> {
    const file = this.file;
    if (!file) return;
    try {
      const { versions } = await api.fileHistory(file.stable_id);
      if (this.file !== file) return;
      this.render(file, versions);
    } catch (error) {
      if (this.file === file) showError(byId('history-error'), `Could not load the history: ${errorMessage(error)}`);
    }
  }

  private render(file: DocFile, versions: FileVersion[]): void {
    byId('history-title').textContent = `History: ${plural(versions.length, 'version')}`;
    byId('history-pending').hidden = file.sync_status === 'synced' || versions.length === 0;
    if (versions.length === 0) {
      fill(byId('history-list'), h('p', { class: 'muted' }, 'No versions yet: the history of a file starts with its first sync.'));
      return;
    }
    const headings = ['Version', 'Committed', 'Instance', 'Name', 'Size', 'Labels'];
    fill(byId('history-list'), table(`Versions of ${file.filename}`, headings, versions.map((version) => this.row(file, version))));
  }

  private row(file: DocFile, version: FileVersion): HTMLTableRowElement {
    let action: HTMLElement;
    if (version.current) {
      action = h('span', { class: 'version-state current' }, 'Current');
    } else if (version.deleted) {
      action = h('span', { class: 'version-state deleted' }, 'Deleted');
    } else {
      const button = h(
        'button',
        { type: 'button', 'aria-label': `Restore version ${version.version} of ${version.filename}`, 'data-version': version.version },
        'Restore',
      );
      button.addEventListener('click', () => void this.restore(file, version, button));
      action = button;
    }
    return h(
      'tr',
      { 'data-version': version.version },
      h('td', { class: 'num' }, version.version),
      h('td', { class: 'date' }, h('time', { datetime: version.committed_at }, formatDate(version.committed_at))),
      h('td', { class: 'muted small', title: version.instance_id }, version.instance_id.slice(0, 8)),
      h('td', { class: 'name-cell' }, h('span', { class: 'filename' }, version.filename)),
      h('td', { class: 'num' }, version.deleted ? '–' : formatBytes(version.size)),
      h('td', { class: 'tags-cell' }, version.labels.length > 0 ? version.labels.join(', ') : h('span', { class: 'muted' }, '–')),
      h('td', { class: 'actions' }, action),
    );
  }

  private async restore(file: DocFile, version: FileVersion, button: HTMLButtonElement): Promise<void> {
    showError(byId('history-error'), null);
    try {
      const restored = await busy(button, () => api.restoreVersion(file.stable_id, version.version));
      notify(`Restored ${restored.filename} to version ${version.version}; the next sync shares it`);
      this.onRestored();
      this.file = restored;
      byId('history-filename').textContent = restored.filename;
      await this.load();
      byId('history-close').focus();
    } catch (error) {
      showError(byId('history-error'), `Could not restore version ${version.version}: ${errorMessage(error)}`);
    }
  }
}

/** The trash panel: files deleted within the history window, newest first, each with Restore. */
export class TrashView {
  private files: DocFile[] = [];
  private nextCursor: string | null = null;
  private readonly toggle = byId<HTMLButtonElement>('trash-button');
  private readonly panel = byId('trash-panel');

  /** After a restore: the file list and the status badge changed. */
  onRestored: () => void = () => undefined;

  constructor() {
    this.toggle.addEventListener('click', () => (this.isOpen ? this.close() : void this.open()));
    byId('trash-close').addEventListener('click', () => this.close());
    const more = byId<HTMLButtonElement>('trash-more');
    more.addEventListener('click', () => void busy(more, () => this.loadMore()));
  }

  get isOpen(): boolean {
    return !this.panel.hidden;
  }

  async open(): Promise<void> {
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    fill(byId('trash-list'), h('p', { class: 'empty' }, 'Loading the trash…'));
    await this.refresh();
    byId('trash-close').focus();
  }

  close(): void {
    this.panel.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.focus();
  }

  /** Reloads the first page while the panel is open (after deletes, restores, syncs). */
  async refresh(): Promise<void> {
    if (!this.isOpen) return;
    try {
      const page = await api.trash({ limit: TRASH_PAGE });
      this.files = page.files;
      this.nextCursor = page.next_cursor;
      showError(byId('trash-error'), null);
      this.render();
    } catch (error) {
      showError(byId('trash-error'), `Could not load the trash: ${errorMessage(error)}`);
    }
  }

  clear(): void {
    this.panel.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    this.files = [];
    fill(byId('trash-list'));
  }

  private async loadMore(): Promise<void> {
    if (!this.nextCursor) return;
    try {
      const page = await api.trash({ cursor: this.nextCursor, limit: TRASH_PAGE });
      const seen = new Set(this.files.map((file) => file.stable_id));
      this.files.push(...page.files.filter((file) => !seen.has(file.stable_id)));
      this.nextCursor = page.next_cursor;
      this.render();
    } catch (error) {
      notify(`Could not load more of the trash: ${errorMessage(error)}`, 'error');
    }
  }

  private render(): void {
    byId('trash-title').textContent = this.files.length === 0 ? 'Trash' : `Trash (${this.files.length}${this.nextCursor ? '+' : ''})`;
    byId('trash-more').hidden = !this.nextCursor;
    if (this.files.length === 0) {
      fill(byId('trash-list'), h('p', { class: 'empty' }, 'The trash is empty.'));
      return;
    }
    fill(byId('trash-list'), table('Deleted files', ['Name', 'Labels', 'Size', 'Deleted'], this.files.map((file) => this.row(file))));
  }

  private row(file: DocFile): HTMLTableRowElement {
    const button = h('button', { type: 'button', 'aria-label': `Restore ${file.filename}` }, 'Restore');
    button.addEventListener('click', () => void this.restore(file, button));
    return h(
      'tr',
      { 'data-id': file.stable_id },
      h('td', { class: 'name-cell' }, h('span', { class: 'filename' }, file.filename), h('div', { class: 'file-meta' }, h('span', { class: 'type' }, file.file_type))),
      h('td', { class: 'tags-cell' }, file.labels.length > 0 ? file.labels.join(', ') : h('span', { class: 'muted' }, '–')),
      h('td', { class: 'num' }, formatBytes(file.size)),
      h('td', { class: 'date' }, h('time', { datetime: file.updated_at }, formatDate(file.updated_at))),
      h('td', { class: 'actions' }, h('div', { class: 'action-buttons' }, button)),
    );
  }

  private async restore(file: DocFile, button: HTMLButtonElement): Promise<void> {
    try {
      const restored = await busy(button, () => api.restoreDeleted(file.stable_id));
      notify(`Restored ${restored.filename}; the next sync shares it`);
      this.onRestored();
      await this.refresh();
      // The row just restored is gone: keep the keyboard in the panel.
      (byId('trash-list').querySelector<HTMLElement>('button') ?? byId('trash-close')).focus();
    } catch (error) {
      notify(`Could not restore ${file.filename}: ${errorMessage(error)}`, 'error');
    }
  }
}
