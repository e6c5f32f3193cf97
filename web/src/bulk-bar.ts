import { api } from './api.ts';
import type { BulkAction, BulkReport, FileFilters, Selection } from './api-types.ts';
import { confirmAction } from './dialogs.ts';
import { busy, byId, h, parseTags, plural } from './dom.ts';
import { errorMessage, notify } from './notify.ts';

const CHANGES: Array<{ action: BulkAction['action']; text: string; done: string }> = [
  { action: 'add_labels', text: 'Add label', done: 'Labelled' },
  { action: 'remove_labels', text: 'Remove label', done: 'Removed the label from' },
  { action: 'add_collections', text: 'Add to collection', done: 'Added to the collection' },
  { action: 'remove_collections', text: 'Remove from collection', done: 'Removed from the collection' },
];

export interface BulkBarDeps {
  /** The ids of the rows at positions `from`…`to` (inclusive) in the list's order: a shift-click range. */
  idsBetween(from: number, to: number): Promise<string[]>;
  /** How many files match the filters (select all matching). */
  total(): number;
  filters(): FileFilters;
  /** The selection changed: repaint the checkboxes. */
  changed(): void;
  /** A bulk action finished: reload the list. */
  done(): Promise<void>;
}

/**
 * The selection and what can be done with it. Either explicit ids (clicks, shift-click ranges) or
 * "every file matching the filters" (the header's box, the bar's button) minus the ones unticked
 * since — the latter goes to the server as the filter, so 100,000 matching files are never loaded
 * to be chosen.
 */
export class BulkBar {
  private readonly ids = new Set<string>();
  private allMatching = false;
  private readonly except = new Set<string>();
  /** The last row clicked (its position in the list): a shift-click selects from it. */
  private anchor: number | undefined;
  private readonly bar = h('section', { id: 'bulk-bar', class: 'bulk-bar', 'aria-label': 'Selected files', hidden: true });
  private readonly count = h('span', { class: 'bulk-count', 'aria-live': 'polite' });
  private readonly matching = h('button', { type: 'button', onclick: () => this.selectAllMatching() });
  private readonly change = h('select', { 'aria-label': 'Change to make' }, ...CHANGES.map((c) => h('option', { value: c.action }, c.text)));
  private readonly value = h('input', { 'aria-label': 'Label or collection', placeholder: 'Label or collection', autocomplete: 'off', list: 'known-labels' });

  constructor(private readonly deps: BulkBarDeps) {
    const apply = h('button', { type: 'submit' }, 'Apply');
    const form = h('form', { class: 'bulk-change' }, this.change, this.value, apply);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void busy(apply, () => this.applyChange());
    });
    this.change.addEventListener('change', () => this.value.setAttribute('list', this.change.value.endsWith('labels') ? 'known-labels' : 'known-collections'));
    const zip = h('button', { type: 'button' }, 'Download zip');
    zip.addEventListener('click', () =>
      void busy(zip, () => api.downloadZip(this.selection()).catch((error: unknown) => notify(`Download zip: ${errorMessage(error)}`, 'error'))),
    );
    const remove = h('button', { type: 'button', class: 'danger-text', onclick: () => void this.remove() }, 'Delete');
    const clear = h('button', { type: 'button', onclick: () => this.clear() }, 'Clear selection');
    this.bar.append(h('div', { class: 'bulk-head' }, this.count, this.matching, clear), h('div', { class: 'bulk-actions' }, form, zip, remove));
    byId('file-list').after(this.bar);
  }

  isSelected(id: string): boolean {
    return this.allMatching ? !this.except.has(id) : this.ids.has(id);
  }

  /**
   * A row's box was clicked (the row at `index`); with shift, every row between it and the last one
   * clicked follows, loaded or not (the list is windowed: the ids come from the server when needed).
   */
  async toggle(id: string, index: number, checked: boolean, range: boolean): Promise<void> {
    const from = range ? this.anchor : undefined;
    this.anchor = index;
    this.set(id, checked);
    if (from !== undefined && from !== index) {
      try {
        for (const each of await this.deps.idsBetween(Math.min(from, index), Math.max(from, index))) this.set(each, checked);
      } catch (error) {
        notify(`Could not select the range: ${errorMessage(error)}`, 'error');
      }
    }
    this.update();
  }

  /** The header's box: every file matching the filters, or none. */
  selectAll(checked: boolean): void {
    if (checked) this.selectAllMatching();
    else this.clear();
  }

  /** A new sort: positions mean other rows, so a shift-click starts afresh. */
  forgetAnchor(): void {
    this.anchor = undefined;
  }

  /** For the header's box: 'all' (every matching file), 'some' or 'none'. */
  state(): 'all' | 'some' | 'none' {
    const size = this.size();
    if (size === 0) return 'none';
    return size >= this.deps.total() ? 'all' : 'some';
  }

  clear(): void {
    this.ids.clear();
    this.except.clear();
    this.allMatching = false;
    this.anchor = undefined;
    this.update();
  }

  /** Shows, hides and words the bar for the current selection and list. */
  render(): void {
    const selected = this.size();
    this.bar.hidden = selected === 0;
    this.count.textContent = this.allMatching ? `All ${plural(selected, 'matching file')} selected` : `${plural(selected, 'file')} selected`;
    const total = this.deps.total();
    this.matching.hidden = this.allMatching || selected === 0 || selected >= total;
    this.matching.textContent = `Select all ${total.toLocaleString()} matching`;
  }

  private set(id: string, checked: boolean): void {
    if (this.allMatching) {
      if (checked) this.except.delete(id);
      else this.except.add(id);
    } else if (checked) {
      this.ids.add(id);
    } else {
      this.ids.delete(id);
    }
  }

  private selectAllMatching(): void {
    this.allMatching = true;
    this.ids.clear();
    this.except.clear();
    this.update();
  }

  private size(): number {
    return this.allMatching ? Math.max(0, this.deps.total() - this.except.size) : this.ids.size;
  }

  private selection(): Selection {
    if (!this.allMatching) return { ids: [...this.ids] };
    const { collection, label, q } = this.deps.filters();
    return { filter: { collection, label, q }, except: [...this.except] };
  }

  private update(): void {
    this.render();
    this.deps.changed();
  }

  private async applyChange(): Promise<void> {
    const values = parseTags(this.value.value);
    if (values.length === 0) {
      notify('Type a label or collection first.', 'error');
      this.value.focus();
      return;
    }
    const change = CHANGES.find((c) => c.action === this.change.value)!;
    try {
      const report = await api.bulk(this.selection(), change.action, values);
      this.report(`${change.done} “${values.join(', ')}”`, report);
      this.value.value = '';
      await this.deps.done();
    } catch (error) {
      notify(`${change.text}: ${errorMessage(error)}`, 'error');
    }
  }

  private async remove(): Promise<void> {
    const count = this.size();
    let report: BulkReport | undefined;
    const done = await confirmAction({
      title: `Delete ${plural(count, 'file')}?`,
      text: `The selected files will be deleted here, and on the other instances after the next sync. The trash can bring them back.`,
      ok: 'Delete',
      action: async () => {
        report = await api.bulk(this.selection(), 'delete');
      },
    });
    if (!done || !report) return;
    this.report('Deleted', report);
    this.clear();
    await this.deps.done();
  }

  private report(what: string, report: BulkReport): void {
    const failed = report.failed ? `; ${plural(report.failed, 'file')} failed (${report.failures[0]?.message ?? ''})` : '';
    notify(`${what}: ${plural(report.done, 'file')}${failed}`, report.failed ? 'error' : 'info');
  }
}
