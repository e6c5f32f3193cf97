import { AppError } from '../errors.ts';

/** The remote is gone or is another repository than the one this instance synced with. */
export class RemoteReplacedError extends AppError {
  constructor(message: string) {
    super(
      'remote_replaced',
      `${message} Refusing to sync: nothing was changed, locally or remotely. If the remote was reset on purpose, ` +
        "run 'docsync sync --reinitialize' to publish this instance's files as a new remote.",
      409,
    );
  }
}

/** A sync would delete more local files than the configured share: a person must confirm. */
export class MassDeleteError extends AppError {
  constructor(deletions: number, live: number, limitPercent: number) {
    super(
      'mass_delete',
      `This sync would delete ${deletions} of ${live} local files (${Math.round((deletions / live) * 100)}%), more than ` +
        `DOCSYNC_MAX_DELETE_PERCENT (${limitPercent}%). Nothing was changed. If these deletions are intended, sync with force.`,
      409,
    );
  }
}

export class SyncInProgressError extends AppError {
  constructor() {
    super('sync_in_progress', 'Another sync of this data dir is running (the server or a CLI); try again when it ends', 409, true);
  }
}
