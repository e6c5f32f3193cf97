import { api } from './api.ts';
import type { RemoteStatus, SyncProgress, SyncSummary } from './api-types.ts';
import { byId, fill, formatBytes, formatDate, h, plural } from './dom.ts';
import { errorMessage } from './notify.ts';

const PHASE_TEXT: Record<string, string> = {
  checking: 'Checking the remote…',
  locking: 'Waiting for the sync lock…',
  metadata: 'Reading the remote index…',
  planning: 'Comparing both sides…',
  downloading: 'Downloading',
  applying: 'Applying changes here…',
  uploading: 'Uploading',
  committing: 'Publishing the new version…',
  done: 'Finishing…',
};

/**
 * The status badge, the Sync button, and the sync panel: a progress bar driven by SSE
 * `syncProgress`, then the summary (`syncComplete`, or the answer of `POST /sync` when SSE is
 * down) or the error. Syncs this page did not start (background, another tab) show up too once
 * they get past the quick "anything to do?" check.
 */
export class SyncView {
  private running = false;
  /** This page's own `POST /sync` is in flight. */
  private own = false;
  private finished = true;
  /** No remote configured: the button stays disabled. */
  private standalone = false;
  private lastStatus: RemoteStatus | undefined;
  private conflictCount = 0;
  private statusRequest: Promise<void> | undefined;
  private statusAgain = false;
  /** Where the current transfer phase's speed is measured from: its first event seen here. */
  private speedFrom: { phase: string; at: number; bytes: number } | undefined;

  /** After a sync ended (files, conflicts and status may have changed). */
  onFinished: () => void = () => undefined;

  constructor() {
    byId('sync-button').addEventListener('click', () => void this.run());
    byId('sync-dismiss').addEventListener('click', () => {
      byId('sync-panel').hidden = true;
      byId('sync-button').focus();
    });
  }

  async run(): Promise<void> {
    if (this.own) return;
    this.own = true;
    this.begin();
    this.updateButton();
    try {
      this.complete(await api.sync());
    } catch (error) {
      this.fail(errorMessage(error));
    } finally {
      this.own = false;
      this.updateButton();
    }
  }

  progress(progress: SyncProgress): void {
    // A background sync that finds nothing to do (checking, then done) stays out of sight.
    if (!this.running && !this.own && (progress.phase === 'checking' || progress.phase === 'done')) return;
    if (this.finished && !this.own) this.begin();
    this.setPercent(progress.percent);
    byId('sync-phase').textContent = this.phaseText(progress);
  }

  /** "Uploading 3 of 10 files · 12 MB of 40 MB · 8.5 MB/s" (the speed since this page first saw the phase). */
  private phaseText(progress: SyncProgress): string {
    const text = PHASE_TEXT[progress.phase] ?? progress.phase;
    if (progress.phase_bytes_total === 0 && progress.total <= 1) return text;
    const now = performance.now();
    if (this.speedFrom?.phase !== progress.phase) this.speedFrom = { phase: progress.phase, at: now, bytes: progress.phase_bytes };
    const seconds = (now - this.speedFrom.at) / 1000;
    const moved = progress.phase_bytes - this.speedFrom.bytes;
    return [
      `${text} ${progress.done} of ${plural(progress.total, 'file')}`,
      progress.phase_bytes_total > 0 && `${formatBytes(progress.phase_bytes)} of ${formatBytes(progress.phase_bytes_total)}`,
      seconds > 0 && moved > 0 && `${formatBytes(moved / seconds)}/s`,
    ]
      .filter(Boolean)
      .join(' · ');
  }

  message(text: string): void {
    if (this.finished) return;
    byId('sync-result').appendChild(h('p', { class: 'muted small' }, text));
  }

  complete(summary: SyncSummary): void {
    if (this.finished) return;
    this.setPercent(100);
    byId('sync-phase').textContent = `Finished at ${new Date().toLocaleTimeString()}`;
    const details = [
      summary.new_version !== null && `remote version ${summary.new_version}`,
      summary.bytes_uploaded > 0 && `${formatBytes(summary.bytes_uploaded)} up`,
      summary.bytes_downloaded > 0 && `${formatBytes(summary.bytes_downloaded)} down`,
      `${(summary.duration_ms / 1000).toFixed(1)} s`,
    ].filter(Boolean);
    const kind = summary.errors > 0 || summary.conflicts > 0 ? 'warn' : 'ok';
    fill(
      byId('sync-result'),
      h('p', { class: `summary ${kind}`, id: 'sync-summary' }, summary.message || 'Sync finished'),
      h('p', { class: 'muted small' }, details.join(' · ')),
      summary.conflicts > 0 && h('p', { class: 'small', id: 'sync-conflicts-note' }, `${plural(summary.conflicts, 'file')} in conflict: choose a version below.`),
    );
    this.end();
  }

  fail(message: string): void {
    if (this.finished) return;
    byId('sync-panel').classList.add('failed');
    byId('sync-phase').textContent = 'Sync failed';
    fill(byId('sync-result'), h('p', { class: 'error', role: 'alert' }, message));
    this.end();
  }

  private begin(): void {
    this.speedFrom = undefined;
    this.running = true;
    this.finished = false;
    const panel = byId('sync-panel');
    panel.hidden = false;
    panel.classList.remove('failed');
    byId('sync-dismiss').hidden = true;
    fill(byId('sync-result'));
    byId('sync-phase').textContent = 'Starting…';
    this.setPercent(0);
    this.updateButton();
  }

  private end(): void {
    this.running = false;
    this.finished = true;
    byId('sync-dismiss').hidden = false;
    this.updateButton();
    this.onFinished();
  }

  private setPercent(percent: number): void {
    const value = Math.max(0, Math.min(100, Math.round(percent)));
    const bar = byId('sync-progress');
    bar.setAttribute('aria-valuenow', String(value));
    (bar.firstElementChild as HTMLElement).style.width = `${value}%`;
    byId('sync-percent').textContent = `${value}%`;
  }

  private updateButton(): void {
    const button = byId<HTMLButtonElement>('sync-button');
    const busy = this.own || this.running;
    button.disabled = busy || this.standalone;
    button.textContent = busy ? 'Syncing…' : 'Sync now';
    button.title = this.standalone ? 'This instance runs standalone: no remote is configured' : '';
  }

  /** Reloads the badge; calls made while one runs are folded into one more. */
  refreshStatus(): Promise<void> {
    if (this.statusRequest) {
      this.statusAgain = true;
      return this.statusRequest;
    }
    this.statusRequest = (async () => {
      do {
        this.statusAgain = false;
        try {
          this.renderStatus(await api.syncStatus());
        } catch (error) {
          this.renderBadge('Status unavailable', 'error', errorMessage(error));
        }
      } while (this.statusAgain);
    })().finally(() => {
      this.statusRequest = undefined;
    });
    return this.statusRequest;
  }

  /** Conflicts outrank local changes in the badge (they count among them in the status). */
  setConflictCount(count: number): void {
    this.conflictCount = count;
    if (this.lastStatus) this.renderStatus(this.lastStatus);
    this.noteConflicts();
  }

  /** The result box follows the conflicts resolved since: the count, then that they are all done. */
  private noteConflicts(): void {
    const note = document.getElementById('sync-conflicts-note');
    if (!note || !this.finished) return;
    if (this.conflictCount > 0) {
      note.textContent = `${plural(this.conflictCount, 'file')} in conflict: choose a version below.`;
      return;
    }
    note.textContent = 'All conflicts are resolved; the next sync shares your choices.';
    byId('sync-summary').classList.replace('warn', 'ok');
  }

  /** A status the server sent by itself (its background check saw the remote move). */
  showStatus(status: RemoteStatus): void {
    this.renderStatus(status);
  }

  private renderStatus(status: RemoteStatus): void {
    this.lastStatus = status;
    this.standalone = !status.remote_configured;
    this.updateButton();
    const last = status.last_sync_time ? `Last sync ${formatDate(status.last_sync_time)}` : 'Never synced';
    const where = `Remote: ${status.remote}`;
    if (!status.remote_configured) {
      this.renderBadge('Standalone', 'neutral', 'No remote is configured: this instance keeps its files to itself');
    } else if (status.remote_error) {
      this.renderBadge('Remote unreachable', 'error', `${status.remote_error}\n${where}`);
    } else if (this.conflictCount > 0) {
      this.renderBadge(plural(this.conflictCount, 'conflict'), 'error', 'Choose a version for each file in the conflicts panel');
    } else if (status.sync_in_progress) {
      this.renderBadge('Syncing…', 'busy', where);
    } else if (status.unsynced_count > 0) {
      const ahead = remoteAhead(status) ? ', remote ahead' : '';
      this.renderBadge(`${plural(status.unsynced_count, 'local change')}${ahead}`, 'pending', `${last}\n${where}`);
    } else if (status.needs_sync) {
      this.renderBadge('Remote has changes: sync needed', 'pending', `${last}\nRemote version ${status.remote_version}, here ${status.local_version ?? 'none'}\n${where}`);
    } else {
      this.renderBadge('In sync', 'ok', `${last}\n${where}`);
    }
  }

  private renderBadge(text: string, kind: string, details: string): void {
    const badge = byId('status-badge');
    badge.textContent = text;
    badge.className = `badge badge-${kind}`;
    badge.title = details;
    badge.dataset.state = kind;
  }
}

/** The remote holds a version this instance has not pulled (whatever it has to push). */
function remoteAhead(status: RemoteStatus): boolean {
  return status.remote_version !== null && status.remote_version !== (status.local_version ?? 0);
}
