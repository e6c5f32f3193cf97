import { api, uploadFile } from './api.ts';
import type { DocFile } from './api-types.ts';
import { byId, formatBytes, h } from './dom.ts';
import { errorMessage } from './notify.ts';

/** At most this many uploads at once; the rest wait their turn (a dropped folder of 200 PDFs). */
const PARALLEL = 3;
const DONE_ROW_MS = 5000;

export interface UploadOptions {
  /** Collections and labels a new file gets (the active filters, so it shows up in the list). */
  target(): { collections?: string[]; labels?: string[] };
  uploaded(file: DocFile): void;
}

export interface UploadProgress {
  bar: HTMLProgressElement;
  /** "Waiting…", then the percent sent (after `doing`, where given). */
  state: HTMLElement;
  progress(loaded: number, total: number): void;
}

/**
 * A file's upload progress, shown as a bar and its percent: the upload list's rows (beside the file's
 * name) and the file pane's new version, where `doing` says what the bar is ("Uploading the new
 * version… 42%": a bare percent under the file's details says nothing).
 */
export function uploadProgress(name: string, doing?: string): UploadProgress {
  const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${name}` });
  const state = h('span', { class: 'upload-state muted' }, doing ? `${doing}…` : 'Waiting…');
  const progress = (loaded: number, total: number) => {
    const percent = Math.round((loaded / total) * 100);
    bar.value = percent;
    state.textContent = doing ? `${doing}… ${percent}%` : `${percent}%`;
  };
  return { bar, state, progress };
}

/**
 * Upload by drag and drop anywhere on the page, or the file picker. Every file gets a row with its
 * own progress bar (XMLHttpRequest upload events); failures stay listed with the server's message.
 */
export class Uploader {
  private queue: Array<() => Promise<void>> = [];
  private active = 0;
  private enabled = false;
  private dragDepth = 0;

  constructor(private readonly options: UploadOptions) {
    const input = byId<HTMLInputElement>('file-input');
    byId('pick-files').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      if (input.files) this.add([...input.files]);
      input.value = '';
    });
    const overlay = byId('drop-overlay');
    const zone = byId('drop-zone');
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
    document.addEventListener('dragenter', (event) => {
      if (!this.enabled || !carriesFiles(event)) return;
      event.preventDefault();
      this.dragDepth++;
      overlay.hidden = false;
      zone.classList.add('dragging');
    });
    document.addEventListener('dragover', (event) => {
      if (!this.enabled || !carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer!.dropEffect = 'copy';
    });
    const endDrag = () => {
      this.dragDepth = 0;
      overlay.hidden = true;
      zone.classList.remove('dragging');
    };
    document.addEventListener('dragleave', () => {
      if (--this.dragDepth <= 0) endDrag();
    });
    document.addEventListener('drop', (event) => {
      if (!this.enabled || !carriesFiles(event)) return;
      // Without this the browser would open the dropped file and leave the page.
      event.preventDefault();
      endDrag();
      this.add([...(event.dataTransfer?.files ?? [])]);
    });
  }

  /** Drops are ignored while logged out. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  /** Shows where new files go ("into collection thesis") while a filter is active. */
  showTarget(): void {
    const target = this.options.target();
    const parts = [
      target.collections?.length && `collection “${target.collections.join(', ')}”`,
      target.labels?.length && `label “${target.labels.join(', ')}”`,
    ].filter(Boolean);
    const line = byId('upload-target');
    line.textContent = parts.length ? `New files get ${parts.join(' and ')} (the active filters).` : '';
    line.hidden = parts.length === 0;
  }

  add(files: File[]): void {
    for (const file of files) {
      const row = this.row(file);
      this.queue.push(() => this.send(file, row));
    }
    this.pump();
  }

  private pump(): void {
    while (this.active < PARALLEL && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.active++;
      void next().finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private row(file: File): UploadProgress & { li: HTMLLIElement; cancel: HTMLButtonElement } {
    const { bar, state, progress } = uploadProgress(file.name);
    const cancel = h('button', { type: 'button', class: 'icon', 'aria-label': `Cancel upload of ${file.name}` }, '×');
    const name = h('span', { class: 'upload-name', title: file.name }, file.name);
    const li = h('li', { class: 'upload' }, name, h('span', { class: 'muted small' }, formatBytes(file.size)), bar, state, cancel);
    cancel.onclick = () => li.remove();
    byId('upload-list').appendChild(li);
    return { li, bar, state, progress, cancel };
  }

  private async send(file: File, row: ReturnType<Uploader['row']>): Promise<void> {
    if (!row.li.isConnected) return; // cancelled while waiting
    row.state.textContent = 'Uploading…';
    const handle = uploadFile(file, this.options.target(), row.progress);
    row.cancel.onclick = () => handle.abort();
    try {
      let stored = await handle.done;
      // Browsers escape `"`, CR and LF in multipart filenames as %22, %0D, %0A (HTML spec) and the
      // server keeps what it got: put the real name back.
      if (stored.filename !== file.name) stored = await api.updateFile(stored.stable_id, { filename: file.name });
      row.bar.value = 100;
      row.state.textContent = 'Uploaded';
      row.li.classList.add('done');
      row.cancel.remove();
      this.options.uploaded(stored);
      setTimeout(() => row.li.remove(), DONE_ROW_MS);
    } catch (error) {
      row.li.classList.add('failed');
      row.state.textContent = errorMessage(error);
      row.state.classList.remove('muted');
      row.state.classList.add('error');
      row.cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
      row.cancel.onclick = () => row.li.remove();
    }
  }
}
