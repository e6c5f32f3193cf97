import { api } from './api.ts';
import type { DocFile } from './api-types.ts';
import { busy, byId, parseTags } from './dom.ts';
import { errorMessage, showError } from './notify.ts';

/**
 * The two modal dialogs: edit a file's collections and labels, and confirm a deletion. Native
 * <dialog>: showModal() keeps focus inside and Escape closes it; focus goes back to the button that
 * opened it.
 */

interface OpenDialog {
  dialog: HTMLDialogElement;
  opener: Element | null;
}

function open(dialog: HTMLDialogElement, focus: HTMLElement): OpenDialog {
  const opener = document.activeElement;
  dialog.showModal();
  focus.focus();
  return { dialog, opener };
}

function close({ dialog, opener }: OpenDialog): void {
  if (dialog.open) dialog.close();
  if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
}

/** Wires a dialog once: Cancel button, Escape (the native `cancel` event) and submit. */
function wire(dialog: HTMLDialogElement, form: HTMLFormElement, cancel: HTMLButtonElement, submit: () => Promise<void>, dismiss: () => void): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  cancel.addEventListener('click', dismiss);
  // Escape as a key, not only as the dialog's close request: opened by a key over another modal (the
  // file pane), Chromium would group the two, and one Escape would close both.
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    dismiss();
  });
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    dismiss();
  });
}

// ---- edit collections and labels ----

let editing: (OpenDialog & { file: DocFile; resolve: (file: DocFile | undefined) => void }) | undefined;

export function setUpEditDialog(): void {
  const dialog = byId<HTMLDialogElement>('edit-dialog');
  const dismiss = () => {
    if (!editing) return;
    const { resolve } = editing;
    close(editing);
    editing = undefined;
    resolve(undefined);
  };
  wire(dialog, byId<HTMLFormElement>('edit-form'), byId<HTMLButtonElement>('edit-cancel'), saveEdit, dismiss);
}

async function saveEdit(): Promise<void> {
  if (!editing) return;
  const current = editing;
  const collections = parseTags(byId<HTMLInputElement>('edit-collections').value);
  const labels = parseTags(byId<HTMLInputElement>('edit-labels').value);
  const error = byId('edit-error');
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((value, i) => value === b[i]);
  if (same(collections, current.file.collections) && same(labels, current.file.labels)) {
    close(current);
    editing = undefined;
    current.resolve(undefined);
    return;
  }
  try {
    const updated = await busy(byId<HTMLButtonElement>('edit-save'), () =>
      api.updateFile(current.file.stable_id, { collections, labels }),
    );
    close(current);
    editing = undefined;
    current.resolve(updated);
  } catch (failure) {
    showError(error, errorMessage(failure));
  }
}

/** Opens the editor; resolves to the updated file, or undefined when cancelled or unchanged. */
export function editFile(file: DocFile): Promise<DocFile | undefined> {
  return new Promise((resolve) => {
    byId('edit-title').textContent = 'Edit collections and labels';
    byId('edit-filename').textContent = file.filename;
    byId<HTMLInputElement>('edit-collections').value = file.collections.join(', ');
    byId<HTMLInputElement>('edit-labels').value = file.labels.join(', ');
    showError(byId('edit-error'), null);
    const collections = byId<HTMLInputElement>('edit-collections');
    editing = { ...open(byId<HTMLDialogElement>('edit-dialog'), collections), file, resolve };
    collections.select();
  });
}

// ---- confirm a destructive action ----

let confirming: (OpenDialog & { action: () => Promise<void>; resolve: (done: boolean) => void }) | undefined;

export function setUpConfirmDialog(): void {
  const dismiss = () => {
    if (!confirming) return;
    const { resolve } = confirming;
    close(confirming);
    confirming = undefined;
    resolve(false);
  };
  const dialog = byId<HTMLDialogElement>('confirm-dialog');
  wire(dialog, byId<HTMLFormElement>('confirm-form'), byId<HTMLButtonElement>('confirm-cancel'), runConfirmed, dismiss);
}

async function runConfirmed(): Promise<void> {
  if (!confirming) return;
  const current = confirming;
  try {
    await busy(byId<HTMLButtonElement>('confirm-ok'), current.action);
    close(current);
    confirming = undefined;
    current.resolve(true);
  } catch (failure) {
    showError(byId('confirm-error'), errorMessage(failure));
  }
}

/** Asks first; runs `action` on OK (errors shown in the dialog). Resolves to whether it ran. */
export function confirmAction(options: { title: string; text: string; ok: string; cancel?: string; action: () => Promise<void> }): Promise<boolean> {
  return new Promise((resolve) => {
    byId('confirm-title').textContent = options.title;
    byId('confirm-text').textContent = options.text;
    byId('confirm-ok').textContent = options.ok;
    byId('confirm-cancel').textContent = options.cancel ?? 'Cancel';
    showError(byId('confirm-error'), null);
    // Focus starts on Cancel: Enter right away must not destroy anything.
    confirming = { ...open(byId<HTMLDialogElement>('confirm-dialog'), byId('confirm-cancel')), action: options.action, resolve };
  });
}
