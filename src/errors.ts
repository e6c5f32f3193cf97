/**
 * One error family for the whole app. Adapters translate transport and storage errors at the
 * boundary; the HTTP layer maps `status`; 5xx messages are never shown to clients.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string) {
    super('bad_request', message, 400);
  }
}

/** A file given to a command (a backup, an export sidecar) is damaged or not what it claims: exit 1, not a usage error. */
export class BadFileError extends AppError {
  constructor(message: string) {
    super('bad_file', message, 422);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super('not_found', message, 404);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required') {
    super('unauthorized', message, 401);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 409);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super('payload_too_large', `Upload exceeds the limit of ${formatBytes(limitBytes)}`, 413);
  }
}

/** Content read back does not match its address. Never used silently. */
export class HashMismatchError extends AppError {
  constructor(expected: string, actual: string) {
    super('hash_mismatch', `Content hash mismatch: expected ${expected}, got ${actual}`, 502);
  }
}

export class ConfigError extends AppError {
  constructor(readonly problems: string[]) {
    super('config', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, 500);
  }
}

/**
 * The data dir cannot be used as it is: missing (outside `serve`), not a folder, not creatable, a
 * database lost beside existing blobs, or a database that is unreadable. Refused at start, never
 * "fixed" by starting empty; the message says what was found and what to do.
 */
export class LocalStateError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 503, false, options);
  }
}

/** ENOSPC / SQLITE_FULL: nothing was stored; the server keeps serving reads. */
export class InsufficientStorageError extends AppError {
  constructor(
    options?: { cause?: unknown },
    message = 'The disk holding the data dir is full: nothing was stored. Free some space and retry.',
  ) {
    super(
      'insufficient_storage',
      message,
      507,
      true,
      options,
    );
  }
}

/** The local database reported corruption or an I/O error at runtime. */
export class StorageFaultError extends AppError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'storage_fault',
      `The local database cannot be read or written (${detail}). Stop docsync, check the disk, and run 'docsync recover'.`,
      503,
      false,
      options,
    );
  }
}

/**
 * The one place raw storage errors (Node fs, SQLite) become AppErrors, so a full disk or a broken
 * database is never a bare 500. `undefined` for anything else.
 */
export function storageErrorOf(error: unknown): AppError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return new InsufficientStorageError({ cause: error });
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return new StorageFaultError('database corrupt', { cause: error });
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return new StorageFaultError('I/O error', { cause: error });
  return undefined;
}

/** Plain words for the file system errors a user can act on. */
const FILE_ERROR_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/**
 * Why a file could not be read, for a per-file failure list: an AppError's or a storage error's
 * message, else plain words for the error's code (`words` adds to or rewords them for the caller's
 * situation), else the error's own message.
 */
export function describeFileError(error: unknown, words: Readonly<Record<string, string>> = {}): string {
  const mapped = error instanceof AppError ? error : storageErrorOf(error);
  if (mapped) return mapped.message;
  const code = (error as { code?: unknown } | null)?.code;
  const meaning = typeof code === 'string' ? (words[code] ?? FILE_ERROR_WORDS[code]) : undefined;
  return meaning ?? (error instanceof Error ? error.message : String(error));
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  return `${bytes} bytes`;
}

export class ForbiddenError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 403);
  }
}

/** Too many attempts: the client may retry after `retryAfterSeconds` (sent as `Retry-After`). */
export class TooManyRequestsError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('too_many_requests', message, 429, true);
  }
}

/** The server is busy with this kind of work right now; retry shortly. */
export class ServiceUnavailableError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('unavailable', message, 503, true);
  }
}
