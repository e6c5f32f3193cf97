import { StorageFaultError, storageErrorOf } from '../errors.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

/**
 * Whether the local database still works, for `GET /health`. Corruption seen by any request is
 * remembered (a corrupt database does not heal); I/O errors count for a minute after the last one.
 * A full disk is not a fault of the database: reads still work, so health stays ok.
 */
export class StorageHealth {
  private corrupt: StorageFaultError | undefined;
  private ioError: { error: StorageFaultError; atMs: number } | undefined;
  private readonly probes: Statement[];

  constructor(
    db: Db,
    private readonly nowMs: () => number,
  ) {
    // The schema page and a small table: a file replaced, truncated or unreadable shows here.
    this.probes = [db.prepare('SELECT count(*) AS n FROM sqlite_master'), db.prepare('SELECT n FROM file_counts LIMIT 1')];
  }

  /** Notes an error thrown anywhere; returns the AppError it maps to, if it is a storage error. */
  note(error: unknown): ReturnType<typeof storageErrorOf> {
    const mapped = storageErrorOf(error);
    if (mapped instanceof StorageFaultError) {
      const code = String((error as { code?: unknown }).code);
      if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') this.corrupt = mapped;
      else this.ioError = { error: mapped, atMs: this.nowMs() };
    }
    return mapped;
  }

  /** The current problem, or undefined when healthy. Runs one cheap read of the database. */
  problem(): StorageFaultError | undefined {
    if (this.corrupt) return this.corrupt;
    if (this.ioError && this.nowMs() - this.ioError.atMs < 60_000) return this.ioError.error;
    try {
      for (const probe of this.probes) probe.get();
    } catch (error) {
      const mapped = this.note(error);
      return mapped instanceof StorageFaultError ? mapped : new StorageFaultError((error as Error).message, { cause: error });
    }
    return undefined;
  }
}
