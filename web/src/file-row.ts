import { api } from './api.ts';
import type { DocFile } from './api-types.ts';
import { append, formatBytes, formatDate, h } from './dom.ts';
import { rowMenuShell, wireRowMenu } from './row-menu.ts';

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
 * The row every file's row is cloned from: its structure and fixed attributes built once. A jump
 * far down builds a window of rows at once; a clone filled with text costs a fraction of building
 * each element (and its listeners) anew.
 */
let prepared: HTMLTableRowElement | undefined;

function preparedRow(): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', { class: 'col-select' }, h('input', { type: 'checkbox', class: 'select-row', 'data-action': 'select' })),
    h(
      'td',
      { class: 'name-cell' },
      h('a', { class: 'filename', target: '_blank', rel: 'noopener', 'data-action': 'open' }),
      h('div', { class: 'file-meta' }, h('span', { class: 'meta-size' })),
    ),
    h('td', { class: 'col-type type' }),
    h('td', { class: 'tags-cell col-tags' }),
    h('td', { class: 'tags-cell col-tags' }),
    h('td', { class: 'num col-size' }),
    h('td', { class: 'date col-date' }, h('time')),
    h(
      'td',
      { class: 'actions' },
      h(
        'div',
        { class: 'action-buttons' },
        h('a', { class: 'button' }, 'Download'),
        h('button', { type: 'button', 'data-action': 'edit' }, 'Edit'),
        h('button', { type: 'button', 'data-action': 'history' }, 'History'),
        h('button', { type: 'button', class: 'danger-text', 'data-action': 'remove' }, 'Delete'),
      ),
      rowMenuShell(),
    ),
  );
}

function named(element: Element, label: string, focusKey: string): void {
  element.setAttribute('aria-label', label);
  element.setAttribute('data-focus-key', focusKey);
}

/**
 * One file's row in the list: select box, name (with size at phone width, doc id and sync status
 * under it), type, collections and labels as filter chips, size, date, and the actions (buttons,
 * or a menu at narrow widths). A clone of the prepared row, filled in; one click listener on the
 * row serves its controls (by their `data-action`).
 */
export function fileRow(file: DocFile, on: RowActions): HTMLTableRowElement {
  const id = file.stable_id;
  const name = file.filename;
  const row = (prepared ??= preparedRow()).cloneNode(true) as HTMLTableRowElement;
  const [selectCell, nameCell, typeCell, collectionsCell, labelsCell, sizeCell, dateCell, actionsCell] = row.children as unknown as HTMLElement[];
  row.setAttribute('data-id', id);
  if (on.selected) row.className = 'selected';
  const box = selectCell!.firstElementChild as HTMLInputElement;
  box.value = id;
  box.checked = on.selected;
  named(box, `Select ${name}`, `select:${id}`);
  const link = nameCell!.firstElementChild as HTMLAnchorElement;
  link.href = api.contentUrl(id);
  link.setAttribute('data-focus-key', `open:${id}`);
  link.textContent = name;
  const meta = link.nextElementSibling!;
  meta.firstElementChild!.textContent = formatBytes(file.size);
  append(
    meta,
    file.doc_id && h('span', {}, `doc ${file.doc_id}`),
    file.sync_status !== 'synced' && h('span', { class: `status status-${file.sync_status}` }, STATUS_TEXT[file.sync_status]),
  );
  typeCell!.textContent = file.file_type;
  // One line per row (the list is windowed): the whole list is in the cell's title when it does not fit.
  tags(collectionsCell!, file.collections, 'collection');
  tags(labelsCell!, file.labels, 'label');
  sizeCell!.textContent = formatBytes(file.size);
  const time = dateCell!.firstElementChild!;
  time.setAttribute('datetime', file.updated_at);
  time.textContent = formatDate(file.updated_at);
  const [download, edit, history, remove] = actionsCell!.firstElementChild!.children as unknown as HTMLElement[];
  download!.setAttribute('href', api.contentUrl(id));
  download!.setAttribute('download', name);
  named(download!, `Download ${name}`, `download:${id}`);
  named(edit!, `Edit collections and labels of ${name}`, `edit:${id}`);
  named(history!, `History of ${name}`, `history:${id}`);
  named(remove!, `Delete ${name}`, `delete:${id}`);
  const menu = actionsCell!.lastElementChild as HTMLElement;
  named(menu.firstElementChild!, `Actions for ${name}`, `menu:${id}`);
  wireRowMenu(menu, () => [
    ...(on.open ? [{ text: 'Details', label: `Details of ${name}`, action: () => on.open?.(file) }] : []),
    { text: 'Download', label: `Download ${name}`, action: () => h('a', { href: api.contentUrl(id), download: name }).click() },
    { text: 'Edit', label: `Edit collections and labels of ${name}`, action: on.edit },
    { text: 'History', label: `History of ${name}`, action: on.history },
    { text: 'Delete', label: `Delete ${name}`, danger: true, action: on.remove },
  ]);
  row.addEventListener('click', (event) => {
    const control = (event.target as Element).closest<HTMLElement>('[data-action]');
    switch (control?.dataset.action) {
      case 'select': {
        const checkbox = control as HTMLInputElement;
        on.select(Number(row.getAttribute('aria-rowindex')) - 2, checkbox.checked, event.shiftKey);
        break;
      }
      case 'open':
        // A plain click opens the pane; with a modifier (or the middle button) the link does what links do.
        if (!on.open || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        on.open(file);
        break;
      case 'edit':
        on.edit();
        break;
      case 'history':
        on.history();
        break;
      case 'remove':
        on.remove();
        break;
      case 'filter':
        on.filter(control.dataset.kind as 'collection' | 'label', control.textContent ?? '');
        break;
    }
  });
  return row;
}

function tags(cell: HTMLElement, values: string[], kind: 'collection' | 'label'): void {
  if (values.length) cell.title = values.join(', ');
  cell.append(chips(values, kind));
}

function chips(values: string[], kind: 'collection' | 'label'): HTMLElement {
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
          { type: 'button', class: `chip chip-${kind}`, title: `Show only files with ${kind} “${value}”`, 'data-action': 'filter', 'data-kind': kind },
          value,
        ),
      ),
    ),
  );
}
