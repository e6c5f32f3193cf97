import { AppError } from '../errors.ts';

/** Base of every remote failure. The sync core sees these, never HTTP status codes. */
export class RemoteError extends AppError {
  constructor(message: string, options: { status?: number; retryable?: boolean; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'remote_error', message, 502, options.retryable ?? false, { cause: options.cause });
    this.remoteStatus = options.status;
  }
  /** The remote's own status code, when it answered with one. */
  readonly remoteStatus: number | undefined;
}

/** 423, 429, 5xx, resets, timeouts: try again later. Never read as "absent". */
export class RemoteUnavailableError extends RemoteError {
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { ...options, retryable: true, code: 'remote_unavailable' });
  }
}

/**
 * The server stopped answering: no headers by the deadline, or a body fell silent. Retryable, but
 * a sync that meets it (after the retries) stops instead of waiting it out once per file.
 */
export class RemoteTimeoutError extends RemoteUnavailableError {}

/** A conditional request (`If-Match` / `If-None-Match`) failed: 412. */
export class PreconditionFailedError extends RemoteError {
  constructor(path: string) {
    super(`Precondition failed for ${path}`, { status: 412, code: 'precondition_failed' });
  }
}

/**
 * A write whose parent folder does not exist (409 from most WebDAV servers, 404 from rclone and
 * sabre/dav): the caller may create the folder and write again.
 */
export class ParentMissingError extends RemoteError {
  constructor(path: string, status: number, options: { cause?: unknown } = {}) {
    super(`Cannot write ${path}: its parent folder does not exist`, { status, code: 'remote_parent_missing', cause: options.cause });
  }
}

/** 401 / 403: the credentials are wrong or lack rights. Retrying does not help. */
export class RemoteAuthError extends RemoteError {
  constructor(message: string, status: number, options: { cause?: unknown } = {}) {
    super(message, { status, code: 'remote_auth', cause: options.cause });
  }
}

/** Something on the remote is not what docsync wrote there (garbage version.txt, bad snapshot). */
export class RemoteCorruptError extends RemoteError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'remote_corrupt' });
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof RemoteError && error.retryable;
}
