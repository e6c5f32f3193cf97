import { api } from './api.ts';
import type { Conflict, ConflictDetail, MergeFields, Resolution } from './api-types.ts';
import { canMerge, differencesTable, showContent, type Choices } from './conflict-compare.ts';
import { byId, fill, h } from './dom.ts';
import { errorMessage, notify } from './notify.ts';

const WHAT_HAPPENED: Record<Conflict['conflict_type'], string> = {
  modified_both: 'Changed here and on another instance.',
  deleted_remote: 'Changed here, deleted on another instance.',
  deleted_local: 'Deleted here, changed on another instance.',
};

const CHOICES: Array<{ resolution: Resolution; text: string; hint: string }> = [
  { resolution: 'local_wins', text: 'Keep this version', hint: 'the version on this instance replaces the other one' },
  { resolution: 'remote_wins', text: 'Take the remote version', hint: 'the other instance’s version replaces this one' },
  { resolution: 'keep_both', text: 'Keep both', hint: 'this version becomes a separate copy; the file takes the remote version' },
  { resolution: 'merge', text: 'Merge', hint: 'each differing field from the side chosen in the table; labels and collections from both' },
];

/** The conflicts panel (hidden while there are none): both sides, and the three resolutions. */
export class ConflictsView {
  private request: Promise<void> | undefined;

  /** After a resolution: files and status changed. */
  onResolved: () => void = () => undefined;
  /** Every time the list is loaded. */
  onCount: (count: number) => void = () => undefined;

  async refresh(): Promise<void> {
    this.request ??= api
      .conflicts()
      .then(({ conflicts }) => this.render(conflicts))
      .catch((error: unknown) => notify(`Could not load the conflicts: ${errorMessage(error)}`, 'error'))
      .finally(() => {
        this.request = undefined;
      });
    return this.request;
  }

  clear(): void {
    this.render([]);
  }

  private render(conflicts: Conflict[]): void {
    this.onCount(conflicts.length);
    const panel = byId('conflicts-panel');
    panel.hidden = conflicts.length === 0;
    byId('conflicts-title').textContent = conflicts.length === 1 ? '1 conflict' : `${conflicts.length} conflicts`;
    fill(byId('conflict-list'), ...conflicts.map((conflict) => this.item(conflict)));
  }

  private item(conflict: Conflict): HTMLLIElement {
    const choices: Choices = new Map();
    const table = h('div', { class: 'conflict-table' }, h('p', { class: 'muted small' }, 'Loading both sides…'));
    const buttons = CHOICES.map(({ resolution, text, hint }) =>
      h('button', { type: 'button', 'data-resolution': resolution, title: hint, 'aria-label': `${text} of ${conflict.filename}: ${hint}`, hidden: resolution === 'merge' }, text),
    );
    const actions = h('div', { class: 'conflict-buttons' }, ...buttons);
    const li = h(
      'li',
      { class: 'conflict', 'data-id': conflict.stable_id },
      h('div', { class: 'conflict-head' }, h('strong', { class: 'filename' }, conflict.filename), h('span', { class: 'muted' }, WHAT_HAPPENED[conflict.conflict_type])),
      table,
      actions,
    );
    buttons.forEach((button, i) =>
      button.addEventListener('click', () => void this.resolve(conflict, CHOICES[i]!.resolution, buttons, mergeFields(choices))),
    );
    void api.conflict(conflict.file_id).then(
      (detail) => {
        fill(table, differencesTable(detail, choices));
        if (canMerge(detail)) buttons[3]!.hidden = false;
        if (detail.differences.includes('content') && bothLive(detail)) li.insertBefore(compareToggle(detail), actions);
      },
      (error: unknown) => fill(table, h('p', { class: 'error' }, `Could not load both sides: ${errorMessage(error)}`)),
    );
    return li;
  }

  private async resolve(conflict: Conflict, resolution: Resolution, buttons: HTMLButtonElement[], fields: MergeFields): Promise<void> {
    for (const button of buttons) button.disabled = true;
    try {
      const answer = await api.resolve(conflict.file_id, resolution, resolution === 'merge' ? fields : undefined);
      notify(`${conflict.filename}: ${answer.message}`);
      await this.refresh();
      // The buttons just pressed are gone: keep the keyboard near, on the next conflict or on Sync.
      (byId('conflict-list').querySelector<HTMLButtonElement>('button:not([hidden])') ?? byId('sync-button')).focus();
      this.onResolved();
    } catch (error) {
      notify(`Could not resolve ${conflict.filename}: ${errorMessage(error)}`, 'error');
      for (const button of buttons) button.disabled = false;
    }
  }
}

function bothLive(detail: ConflictDetail): boolean {
  return detail.remote !== null && !detail.local.deleted && !detail.remote.deleted;
}

function mergeFields(choices: Choices): MergeFields {
  return Object.fromEntries([...choices].map(([field, select]) => [field, select.value])) as MergeFields;
}

/** "Compare content": both versions side by side, loaded when first asked for. */
function compareToggle(detail: ConflictDetail): HTMLElement {
  const id = `compare-${detail.file_id}`;
  const region = h('div', { id, class: 'conflict-content', hidden: true });
  const button = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': id }, 'Compare content');
  let loaded = false;
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-expanded') !== 'true';
    button.setAttribute('aria-expanded', String(open));
    button.textContent = open ? 'Hide content' : 'Compare content';
    region.hidden = !open;
    if (open && !loaded) {
      loaded = true;
      void showContent(detail, region);
    }
  });
  return h('div', { class: 'conflict-compare-content' }, button, region);
}
