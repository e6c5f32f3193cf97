import { api } from './api.ts';
import type { DocFile } from './api-types.ts';
import { formatBytes, formatDate, h } from './dom.ts';
import { rowMenu } from './row-menu.ts';

const STATUS_TEXT: Record<DocFile['sync_status'], string> = {
  synced: 'Synced',
  modified: 'Not synced yet',
  pending_delete: 'Deletion not synced yet',
  conflict: 'Conflict',
};

/** What a row's controls do (the list owns the selection, the dialogs and the filters). */
export interface RowActions {
  selected: boolean;
  /** The row's box clicked: its position comes from the row (`aria-rowindex`), which the window sets. */
  select(index: number, checked: boolean, range: boolean): void;
  /** Set: a plain click on the name opens the file's pane instead of its content in a new tab. */
  open: ((file: DocFile) => void) | undefined;
  edit(): void;
  history(): void;
  remove(): void;
  /** A chip clicked: show only the files with that collection or label. */
  filter(kind: 'collection' | 'label', value: string): void;
}

/**
 * One file's row in the list: select box, name (with size at phone width, doc id and sync status
 * under it), type, collections and labels as filter chips, size, date, and the actions (buttons,
 * or a menu at narrow widths).
 */
export function fileRow(file: DocFile, on: RowActions): HTMLTableRowElement {
  const id = file.stable_id;
  const name = file.filename;
  const status = file.sync_status !== 'synced' && h('span', { class: `status status-${file.sync_status}` }, STATUS_TEXT[file.sync_status]);
  const docId = file.doc_id && h('span', {}, `doc ${file.doc_id}`);
  const { selected } = on;
  const open = (e: Event) => {
    const event = e as MouseEvent;
    if (!on.open || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    on.open(file);
  };
  return h(
    'tr',
    { 'data-id': id, class: selected ? 'selected' : undefined },
    h(
      'td',
      { class: 'col-select' },
      h('input', {
        type: 'checkbox',
        class: 'select-row',
        value: id,
        checked: selected,
        'aria-label': `Select ${name}`,
        'data-focus-key': `select:${id}`,
        onclick: (event: Event) => {
          const box = event.target as HTMLInputElement;
          const index = Number(box.closest('tr')?.getAttribute('aria-rowindex')) - 2;
          on.select(index, box.checked, (event as MouseEvent).shiftKey);
        },
      }),
    ),
    h(
      'td',
      { class: 'name-cell' },
      h('a', { class: 'filename', href: api.contentUrl(id), target: '_blank', rel: 'noopener', 'data-focus-key': `open:${id}`, onclick: open }, name),
      h('div', { class: 'file-meta' }, h('span', { class: 'meta-size' }, formatBytes(file.size)), docId, status),
    ),
    h('td', { class: 'col-type type' }, file.file_type),
    // One line per row (the list is windowed): the whole list is in the cell's title when it does not fit.
    h('td', { class: 'tags-cell col-tags', title: file.collections.join(', ') || undefined }, chips(file.collections, 'collection', on)),
    h('td', { class: 'tags-cell col-tags', title: file.labels.join(', ') || undefined }, chips(file.labels, 'label', on)),
    h('td', { class: 'num col-size' }, formatBytes(file.size)),
    h('td', { class: 'date col-date' }, h('time', { datetime: file.updated_at }, formatDate(file.updated_at))),
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
          { type: 'button', 'aria-label': `Edit collections and labels of ${name}`, 'data-focus-key': `edit:${id}`, onclick: on.edit },
          'Edit',
        ),
        h(
          'button',
          { type: 'button', 'aria-label': `History of ${name}`, 'data-focus-key': `history:${id}`, onclick: on.history },
          'History',
        ),
        h(
          'button',
          { type: 'button', class: 'danger-text', 'aria-label': `Delete ${name}`, 'data-focus-key': `delete:${id}`, onclick: on.remove },
          'Delete',
        ),
      ),
      rowMenu(`Actions for ${name}`, `menu:${id}`, () => [
        ...(on.open ? [{ text: 'Details', label: `Details of ${name}`, action: () => on.open?.(file) }] : []),
        { text: 'Download', label: `Download ${name}`, action: () => h('a', { href: api.contentUrl(id), download: name }).click() },
        { text: 'Edit', label: `Edit collections and labels of ${name}`, action: on.edit },
        { text: 'History', label: `History of ${name}`, action: on.history },
        { text: 'Delete', label: `Delete ${name}`, danger: true, action: on.remove },
      ]),
    ),
  );
}

function chips(values: string[], kind: 'collection' | 'label', on: RowActions): HTMLElement | string {
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
          { type: 'button', class: `chip chip-${kind}`, title: `Show only files with ${kind} “${value}”`, onclick: () => on.filter(kind, value) },
          value,
        ),
      ),
    ),
  );
}
