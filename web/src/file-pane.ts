import { api, ApiError, uploadVersion } from './api.ts';
import type { DocFile } from './api-types.ts';
import { confirmAction } from './dialogs.ts';
import { busy, byId, fill, formatBytes, formatDate, h } from './dom.ts';
import { tokenizeMarkup } from './highlight.ts';
import { errorMessage, notify, showError } from './notify.ts';
import { uploadProgress } from './upload.ts';

/** A text preview shows at most this much (one ranged request); the download has the rest. */
const TEXT_PREVIEW_BYTES = 256 * 1024;
const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;
const TEXT_TYPES = /^text\/|[/+](xml|json)$/;
const MARKUP_TYPES = /xml|html/;

type PreviewKind = 'pdf' | 'image' | 'text' | 'none';

export function previewKind(mimeType: string): PreviewKind {
  if (mimeType === 'application/pdf') return 'pdf';
  if (IMAGE_TYPES.test(mimeType)) return 'image';
  return TEXT_TYPES.test(mimeType) ? 'text' : 'none';
}

/**
 * "Work on one": a side pane (a modal <dialog>: focus stays inside, Escape closes it and focus goes
 * back to the row) with a preview of the file, its name, doc id and metadata to edit, a new version
 * to upload (its progress shown), Previous and Next (the list's order), and the way to its history and
 * to the trash. Closing it (×, Escape, Trash) or going to another file with edits not saved asks first. File content is only ever shown by the
 * browser's own viewers (PDF in a frame under the content CSP, images) or as text nodes, never as markup.
 */
export class FilePane {
  private file: DocFile | undefined;
  private opener: HTMLElement | null = null;
  /** The file the pane was opened on (Previous and Next show others). */
  private openedOn: string | undefined;
  /** Answers for a file no longer shown are dropped. */
  private seq = 0;
  private readonly title = h('h2', { id: 'pane-title', class: 'filename' });
  private readonly meta = h('p', { class: 'muted small pane-meta' });
  private readonly preview = h('div', { class: 'pane-preview', role: 'region', 'aria-label': 'Preview' });
  private readonly download = h('a', { class: 'button' }, 'Download');
  private readonly picker = h('input', { type: 'file', hidden: true, 'aria-label': 'New version' });
  private readonly uploadButton = h('button', { type: 'button' }, 'Upload new version');
  /** A new version's progress while it uploads (the bar the upload list shows for new files). */
  private readonly uploading = h('div', { class: 'pane-upload', hidden: true });
  private readonly nameInput = h('input', { id: 'pane-filename', required: true, autocomplete: 'off' });
  private readonly docIdInput = h('input', { id: 'pane-doc-id', autocomplete: 'off', placeholder: 'none' });
  private readonly metadataInput = h('textarea', { id: 'pane-metadata', rows: 6, spellcheck: 'false', 'aria-describedby': 'pane-metadata-hint pane-error' });
  /** The results of actions here: the page's toasts sit under the modal pane, out of sight. */
  private readonly status = h('p', { class: 'pane-status small', role: 'status' });
  private readonly error = h('p', { id: 'pane-error', class: 'error', role: 'alert', hidden: true });
  private readonly save = h('button', { type: 'submit', class: 'primary' }, 'Save changes');
  private readonly dialog: HTMLDialogElement;

  /** After a change made here (rename, metadata, new version): the list and the badge follow. */
  onChanged: () => void = () => undefined;
  onHistory: (file: DocFile) => void = () => undefined;
  onTrash: () => void = () => undefined;
  /**
   * The file `step` rows from `file` in the list (as filtered and sorted), or undefined past either end
   * or when `file` is no longer among the rows loaded: the pane's Previous and Next.
   */
  neighbour: (file: DocFile, step: 1 | -1) => Promise<DocFile | undefined> = async () => undefined;

  constructor() {
    const close = h('button', { type: 'button', class: 'icon', 'aria-label': 'Close the file pane', onclick: () => void this.requestClose() }, '×');
    const history = h('button', { type: 'button', onclick: () => this.file && this.onHistory(this.file) }, 'History');
    // Going through a batch of scans one after another without closing the pane.
    const previous = h('button', { type: 'button', class: 'icon', 'aria-label': 'Previous file', title: 'Previous file', onclick: () => void this.step(-1) }, '‹');
    const next = h('button', { type: 'button', class: 'icon', 'aria-label': 'Next file', title: 'Next file', onclick: () => void this.step(1) }, '›');
    const trash = h('button', { type: 'button', onclick: () => void this.requestClose().then((closed) => closed && this.onTrash()) }, 'Trash');
    const label = (input: HTMLElement, text: string) => h('label', { for: input.id }, text);
    const form = h(
      'form',
      { class: 'pane-form', 'aria-labelledby': 'pane-details' },
      h('h3', { id: 'pane-details' }, 'Details'),
      label(this.nameInput, 'Name'),
      this.nameInput,
      label(this.docIdInput, 'Document id'),
      this.docIdInput,
      label(this.metadataInput, 'Metadata'),
      this.metadataInput,
      h('p', { id: 'pane-metadata-hint', class: 'muted small' }, 'A JSON object, e.g. {"year": 2024}. Saving is a local change the next sync shares.'),
      this.error,
      h('div', { class: 'dialog-buttons' }, this.save),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.saveDetails();
    });
    this.uploadButton.addEventListener('click', () => this.picker.click());
    this.picker.addEventListener('change', () => void this.uploadVersion());
    this.dialog = h(
      'dialog',
      { id: 'file-pane', class: 'pane', 'aria-labelledby': 'pane-title' },
      h('div', { class: 'pane-head' }, this.title, h('div', { class: 'pane-nav' }, previous, next, close)),
      this.meta,
      h('div', { class: 'pane-actions' }, this.download, this.uploadButton, this.picker, history, trash),
      this.uploading,
      this.status,
      this.preview,
      form,
    );
    // Escape handled here, not by the dialog's own close request: Chromium lets a page refuse only
    // one close request per user activation, and a second Escape (answering the confirm) could close
    // the pane with the edits.
    this.dialog.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      event.preventDefault();
      void this.requestClose();
    });
    this.dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      void this.requestClose();
    });
    // However it closes (here, or every dialog at logout), it forgets the file and stops its preview.
    this.dialog.addEventListener('close', () => {
      if (this.dialog.open) return; // (the event comes a task later: already reopened for another file)
      this.seq++;
      this.file = undefined;
      fill(this.preview);
    });
    byId('app-view').appendChild(this.dialog);
  }

  async open(file: DocFile): Promise<void> {
    if (this.dialog.open && this.file?.stable_id !== file.stable_id && !(await this.mayDiscard())) return;
    const active = document.activeElement;
    if (active instanceof HTMLElement && !this.dialog.contains(active)) {
      this.opener = active;
      this.openedOn = file.stable_id;
    }
    this.show(file);
    if (!this.dialog.open) this.dialog.showModal();
    this.title.setAttribute('tabindex', '-1');
    this.title.focus();
  }

  /** Shows the file before or after this one in the list (asking first when edits are not saved). */
  private async step(step: 1 | -1): Promise<void> {
    const file = this.file;
    if (!file) return;
    let other: DocFile | undefined;
    try {
      other = await this.neighbour(file, step);
    } catch (error) {
      return this.say(`Could not load the ${step > 0 ? 'next' : 'previous'} file: ${errorMessage(error)}`, true);
    }
    if (this.file !== file) return;
    if (!other) return this.say(step > 0 ? 'This is the last file in the list.' : 'This is the first file in the list.');
    await this.open(other);
  }

  /** Shows the file's current state again (after a restore from its history, or a sync changed it). */
  async refresh(): Promise<void> {
    const file = this.file;
    if (!file) return;
    try {
      const current = await api.getFile(file.stable_id);
      if (this.file === file && current.updated_at !== file.updated_at) this.show(current);
    } catch (error) {
      if (this.file !== file || (error as { status?: number }).status !== 404) return;
      notify(`${file.filename} was deleted`);
      this.close();
    }
  }

  /** Closes the pane, asking first when the details hold changes not saved; resolves to whether it closed. */
  async requestClose(): Promise<boolean> {
    if (!(await this.mayDiscard())) return false;
    this.close();
    return true;
  }

  /** Closes without asking (the file was deleted, the session ended). */
  close(): void {
    // Focus goes back to the row: of the file shown when Previous or Next went on from the one opened.
    const shown = this.file && this.file.stable_id !== this.openedOn ? this.file.stable_id : undefined;
    if (this.dialog.open) this.dialog.close();
    // The list may have been redrawn meanwhile: find the row's link again by its key.
    const key = this.opener?.dataset.focusKey;
    const byKey = (focusKey: string) => document.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    const target = (shown && byKey(`open:${shown}`)) || (this.opener?.isConnected || !key ? this.opener : byKey(key));
    target?.focus();
  }

  /**
   * Whether the name, document id or metadata fields differ from the file shown: what Save would send
   * (metadata compared as JSON, so re-indenting it is no change; text that is not JSON is one).
   */
  private unsaved(): boolean {
    const file = this.file;
    if (!file || !this.dialog.open) return false;
    if (this.nameInput.value.trim() !== file.filename || (this.docIdInput.value.trim() || null) !== file.doc_id) return true;
    try {
      return JSON.stringify(JSON.parse(this.metadataInput.value.trim() || '{}')) !== JSON.stringify(file.metadata);
    } catch {
      return true;
    }
  }

  /** True when nothing is unsaved, or the person chose to discard it (the page's confirm dialog, over the pane). */
  private async mayDiscard(): Promise<boolean> {
    if (!this.unsaved()) return true;
    return confirmAction({
      title: 'Discard your changes?',
      text: `The name, document id or metadata of “${this.file?.filename ?? ''}” changed here and are not saved.`,
      ok: 'Discard changes',
      cancel: 'Keep editing',
      action: async () => undefined,
    });
  }

  private show(file: DocFile, saved = false): void {
    const changedContent = this.file?.stable_id !== file.stable_id || this.file.hash !== file.hash;
    if (this.file?.stable_id !== file.stable_id) this.say('');
    // A newer version of the same file (a sync, a restore) must not overwrite what is being typed.
    const keepEdits = !saved && this.file?.stable_id === file.stable_id && this.unsaved();
    this.file = file;
    this.title.textContent = file.filename;
    this.meta.textContent = [file.file_type.toUpperCase(), formatBytes(file.size), `modified ${formatDate(file.updated_at)}`, `id ${file.stable_id}`].join(' · ');
    this.download.setAttribute('href', api.contentUrl(file.stable_id));
    this.download.setAttribute('download', file.filename);
    this.download.setAttribute('aria-label', `Download ${file.filename}`);
    this.uploadButton.setAttribute('aria-label', `Upload new version of ${file.filename}`);
    if (!keepEdits) {
      this.nameInput.value = file.filename;
      this.docIdInput.value = file.doc_id ?? '';
      this.metadataInput.value = JSON.stringify(file.metadata, null, 2);
      this.metadataInput.removeAttribute('aria-invalid');
      showError(this.error, null);
    }
    if (changedContent) void this.renderPreview(file);
  }

  private async renderPreview(file: DocFile): Promise<void> {
    const seq = ++this.seq;
    // The hash in the URL: a new version is a new address, never a stale cached one.
    const url = `${api.contentUrl(file.stable_id)}?v=${file.hash.slice(0, 12)}`;
    const kind = previewKind(file.mime_type);
    if (kind === 'pdf') {
      // The browser's viewer. No `sandbox` attribute: Chromium then refuses to show a PDF at all. The
      // answer carries the content CSP (`sandbox`, `frame-ancestors 'self'`) and a PDF document runs
      // no script of the file on this origin (its JavaScript, if any, stays inside the viewer).
      // `navpanes=0`: no thumbnail column in a pane this narrow.
      fill(this.preview, h('iframe', { class: 'pane-frame', src: `${url}#navpanes=0`, title: `Preview of ${file.filename}` }));
    } else if (kind === 'image') {
      fill(this.preview, h('img', { class: 'pane-image', src: url, alt: `Preview of ${file.filename}` }));
    } else if (kind === 'none') {
      fill(this.preview, h('p', { class: 'muted' }, `No preview for ${file.mime_type} files. Download it to open it.`));
    } else {
      fill(this.preview, h('p', { class: 'muted' }, 'Loading the preview…'));
      try {
        const text = await api.contentText(file.stable_id, TEXT_PREVIEW_BYTES);
        if (seq !== this.seq) return;
        fill(this.preview, this.textView(text, MARKUP_TYPES.test(file.mime_type), file));
      } catch (error) {
        if (seq === this.seq) fill(this.preview, h('p', { class: 'error' }, `Could not load the preview: ${errorMessage(error)}`));
      }
    }
  }

  private textView(text: string, markup: boolean, file: DocFile): HTMLElement {
    const code = h('code', {});
    if (markup) for (const [kind, part] of tokenizeMarkup(text)) code.appendChild(kind === 'text' ? document.createTextNode(part) : h('span', { class: `hl-${kind}` }, part));
    else code.textContent = text;
    const cut = file.size > TEXT_PREVIEW_BYTES && h('p', { class: 'muted small' }, `The first ${formatBytes(TEXT_PREVIEW_BYTES)} of ${formatBytes(file.size)}.`);
    return h('div', {}, h('pre', { class: 'pane-text', tabindex: 0, 'aria-label': `Text of ${file.filename}` }, code), cut);
  }

  private async saveDetails(): Promise<void> {
    const file = this.file;
    if (!file) return;
    showError(this.error, null);
    this.metadataInput.removeAttribute('aria-invalid');
    let metadata: unknown;
    try {
      metadata = JSON.parse(this.metadataInput.value.trim() || '{}');
    } catch (error) {
      return this.invalid(`Metadata is not valid JSON: ${errorMessage(error)}`);
    }
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return this.invalid('Metadata must be a JSON object: { … }');
    const filename = this.nameInput.value.trim();
    if (!filename) return this.fail('The name cannot be empty.', this.nameInput);
    const docId = this.docIdInput.value.trim() || null;
    const patch = {
      ...(filename !== file.filename && { filename }),
      ...(docId !== file.doc_id && { doc_id: docId }),
      ...(JSON.stringify(metadata) !== JSON.stringify(file.metadata) && { metadata: metadata as Record<string, unknown> }),
    };
    if (Object.keys(patch).length === 0) return this.say('Nothing to save: no changes.');
    try {
      const updated = await busy(this.save, () => api.updateFile(file.stable_id, patch));
      if (this.file?.stable_id !== file.stable_id) return;
      this.say(`Saved ${updated.filename}; the next sync shares it.`);
      this.show(updated, true);
      this.onChanged();
    } catch (error) {
      this.fail(`Could not save: ${errorMessage(error)}`, this.save);
    }
  }

  private say(message: string, error = false): void {
    this.status.textContent = message;
    this.status.classList.toggle('error', error);
  }

  private invalid(message: string): void {
    this.metadataInput.setAttribute('aria-invalid', 'true');
    this.fail(message, this.metadataInput);
  }

  private fail(message: string, focus: HTMLElement): void {
    showError(this.error, message);
    focus.focus();
  }

  private async uploadVersion(): Promise<void> {
    const file = this.file;
    const chosen = this.picker.files?.[0];
    this.picker.value = '';
    if (!file || !chosen) return;
    const shown = uploadProgress(chosen.name, `Uploading ${chosen.name} as the new version`);
    const upload = uploadVersion(file.stable_id, chosen, shown.progress);
    // A large scan on a slow link: the person may change their mind (the server keeps nothing of it).
    const cancel = h('button', { type: 'button', 'aria-label': `Cancel the upload of ${chosen.name}`, onclick: () => upload.abort() }, 'Cancel');
    fill(this.uploading, shown.state, shown.bar, cancel);
    this.uploading.hidden = false;
    this.say('');
    try {
      const updated = await busy(this.uploadButton, () => upload.done);
      if (this.file?.stable_id !== file.stable_id) return;
      this.say(updated.hash === file.hash ? `${file.filename} already has this content.` : `Uploaded a new version of ${updated.filename}; the next sync shares it.`);
      this.show(updated);
      this.onChanged();
      this.uploadButton.focus();
    } catch (error) {
      const cancelled = error instanceof ApiError && error.code === 'aborted';
      if (cancelled) this.say(`Upload cancelled: ${file.filename} is unchanged.`);
      else this.say(`Could not upload a new version of ${file.filename}: ${errorMessage(error)}`, true);
      if (cancelled && this.file?.stable_id === file.stable_id) this.uploadButton.focus();
    } finally {
      this.uploading.hidden = true;
    }
  }
}
