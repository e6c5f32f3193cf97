import { api } from './api.ts';
import type { Conflict, Resolution } from './api-types.ts';
import { byId, fill, formatDate, h } from './dom.ts';
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
    const side = (label: string, deleted: boolean, at: string | null, hash: string | null) =>
      h(
        'div',
        { class: 'side', title: hash ? `content sha256 ${hash}` : null },
        h('span', { class: 'side-label' }, label),
        deleted ? 'deleted' : `changed ${formatDate(at)}`,
      );
    const bothPresent = !conflict.local_deleted && !conflict.remote_deleted;
    const content =
      bothPresent && conflict.local_hash === conflict.remote_hash
        ? 'Same content on both sides: only the name, collections or labels differ.'
        : bothPresent
          ? 'The content differs.'
          : null;
    const buttons = CHOICES.map(({ resolution, text, hint }) =>
      h('button', { type: 'button', 'data-resolution': resolution, title: hint, 'aria-label': `${text} of ${conflict.filename}: ${hint}` }, text),
    );
    const li = h(
      'li',
      { class: 'conflict', 'data-id': conflict.stable_id },
      h(
        'div',
        { class: 'conflict-head' },
        h('strong', { class: 'filename' }, conflict.filename),
        h('span', { class: 'muted' }, WHAT_HAPPENED[conflict.conflict_type]),
      ),
      h(
        'div',
        { class: 'sides' },
        side('This instance', conflict.local_deleted, conflict.local_modified_at, conflict.local_hash),
        side('Remote', conflict.remote_deleted, conflict.remote_modified_at, conflict.remote_hash),
      ),
      content && h('p', { class: 'muted small conflict-content' }, content),
      h('div', { class: 'conflict-buttons' }, ...buttons),
    );
    buttons.forEach((button, i) => button.addEventListener('click', () => void this.resolve(conflict, CHOICES[i]!.resolution, buttons)));
    return li;
  }

  private async resolve(conflict: Conflict, resolution: Resolution, buttons: HTMLButtonElement[]): Promise<void> {
    for (const button of buttons) button.disabled = true;
    try {
      const answer = await api.resolve(conflict.file_id, resolution);
      notify(`${conflict.filename}: ${answer.message}`);
      await this.refresh();
      // The buttons just pressed are gone: keep the keyboard near, on the next conflict or on Sync.
      (byId('conflict-list').querySelector('button') ?? byId('sync-button')).focus();
      this.onResolved();
    } catch (error) {
      notify(`Could not resolve ${conflict.filename}: ${errorMessage(error)}`, 'error');
      for (const button of buttons) button.disabled = false;
    }
  }
}
