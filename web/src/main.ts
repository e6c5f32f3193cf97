import { api, setUnauthorizedHandler } from './api.ts';
import { ConflictsView } from './conflicts-view.ts';
import { setUpConfirmDialog, setUpEditDialog } from './dialogs.ts';
import { busy, byId } from './dom.ts';
import { FilePane } from './file-pane.ts';
import { FilesView } from './files-view.ts';
import { HistoryDialog, TrashView } from './history-view.ts';
import { LiveEvents, type LiveState } from './live.ts';
import { errorMessage, notify, showError } from './notify.ts';
import { SyncView } from './sync-view.ts';
import { Uploader } from './upload.ts';

const files = new FilesView();
const sync = new SyncView();
const conflicts = new ConflictsView();
const history = new HistoryDialog();
const trash = new TrashView();
const pane = new FilePane();
let signedIn = false;

/** Many events in a burst (ten uploads finishing, a sync's events) make one reload. */
function debounced(action: () => void, ms = 150): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };
}
const refreshFiles = debounced(() => void files.refresh());
const refreshStatus = debounced(() => void sync.refreshStatus());
const refreshConflicts = debounced(() => void conflicts.refresh());
const refreshTrash = debounced(() => void trash.refresh());
const refreshAll = (): void => {
  refreshFiles();
  refreshStatus();
  refreshConflicts();
  refreshTrash();
};

const uploader = new Uploader({
  target: () => files.uploadTarget,
  uploaded: () => {
    refreshFiles();
    refreshStatus();
  },
});

files.onLocalChange = () => {
  refreshStatus();
  refreshTrash();
};
files.onHistory = (file) => void history.show(file);
files.onOpen = (file) => void pane.open(file);
pane.onHistory = (file) => void history.show(file);
pane.neighbour = (file, step) => files.neighbour(file, step);
pane.onTrash = () => void trash.open();
pane.onChanged = () => {
  refreshFiles();
  refreshStatus();
};
// A restore is a local change like an edit: the list and the badge follow.
history.onRestored = () => {
  refreshFiles();
  refreshStatus();
  void pane.refresh();
};
trash.onRestored = history.onRestored;
files.onFiltersChange = () => uploader.showTarget();
sync.onFinished = refreshAll;
conflicts.onCount = (count) => sync.setConflictCount(count);
conflicts.onResolved = () => {
  refreshFiles();
  refreshStatus();
};

const LIVE_TEXT: Record<LiveState, string> = { connecting: 'Connecting…', live: 'Live', offline: 'Live updates off' };

const live = new LiveEvents({
  url: api.eventsUrl,
  handlers: {
    syncProgress: (progress) => sync.progress(progress),
    syncMessage: ({ message }) => sync.message(message),
    syncComplete: (summary) => {
      sync.complete(summary);
      // Also after syncs of other sessions, which this page shows no progress for.
      refreshStatus();
    },
    syncError: ({ message }) => sync.fail(message),
    conflict: refreshConflicts,
    syncStatus: (status) => sync.showStatus(status),
    fileDataChanged: () => {
      refreshFiles();
      void pane.refresh();
      refreshStatus();
      refreshTrash();
    },
  },
  resync: refreshAll,
  state: (state) => {
    const indicator = byId('live-indicator');
    indicator.dataset.state = state;
    indicator.textContent = LIVE_TEXT[state];
    indicator.title =
      state === 'live' ? 'Changes from syncs show up by themselves' : 'Not connected to the server’s event stream; retrying';
  },
  // A refused stream after logout elsewhere: let the session check decide.
  refused: () => {
    void api.me().catch((error: unknown) => {
      if ((error as { status?: number }).status === 401) showLogin('Your session has ended. Please log in again.');
    });
  },
});

function showApp(username: string): void {
  signedIn = true;
  byId('boot').hidden = true;
  byId('login-view').hidden = true;
  byId('app-view').hidden = false;
  byId('user-name').textContent = username;
  uploader.setEnabled(true);
  uploader.showTarget();
  live.start();
  void files.refresh({ reset: true });
  void sync.refreshStatus();
  // No polling: the server's background check sends `syncStatus` when the remote moves.
  void conflicts.refresh();
  byId('sync-button').focus();
}

function showLogin(message?: string): void {
  signedIn = false;
  live.stop();
  uploader.setEnabled(false);
  files.clear();
  conflicts.clear();
  trash.clear();
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  byId('boot').hidden = true;
  byId('app-view').hidden = true;
  byId('login-view').hidden = false;
  showError(byId('login-error'), message ?? null);
  const username = byId<HTMLInputElement>('login-username');
  const password = byId<HTMLInputElement>('login-password');
  password.value = '';
  (username.value ? password : username).focus();
}

setUnauthorizedHandler(() => {
  if (signedIn) showLogin('Your session has ended. Please log in again.');
});

byId<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const username = byId<HTMLInputElement>('login-username');
  const password = byId<HTMLInputElement>('login-password');
  const error = byId('login-error');
  if (!username.value.trim() || !password.value) {
    showError(error, 'Enter your username and password.');
    (username.value.trim() ? password : username).focus();
    return;
  }
  void busy(byId<HTMLButtonElement>('login-submit'), async () => {
    try {
      const answer = await api.login(username.value.trim(), password.value);
      password.value = '';
      showApp(answer.username);
    } catch (failure) {
      showError(error, errorMessage(failure));
      password.select();
      password.focus();
    }
  });
});

byId('logout-button').addEventListener('click', (event) => {
  void busy(event.currentTarget as HTMLButtonElement, async () => {
    try {
      await api.logout();
    } catch (error) {
      // The session may be gone already; logging out here must still work.
      if ((error as { status?: number }).status !== 401) notify(`Logout: ${errorMessage(error)}`, 'error');
    }
    showLogin();
  });
});

document.addEventListener('visibilitychange', () => {
  if (signedIn && document.visibilityState === 'visible') refreshStatus();
});

setUpEditDialog();
setUpConfirmDialog();

api.me().then(
  (me) => showApp(me.username),
  (error: unknown) => showLogin((error as { status?: number }).status === 401 ? undefined : errorMessage(error)),
);
