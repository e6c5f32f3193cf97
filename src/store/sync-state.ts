import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

/** Per-instance sync state (SPEC §1): instance id, remote repository id, last seen remote version, … */
export class SyncStateStore {
  private readonly getStmt: Statement<[string], { value: string }>;
  private readonly setStmt: Statement<[string, string]>;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT value FROM sync_state WHERE key = ?');
    this.setStmt = db.prepare(
      'INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }

  /** Returns the stored value, or stores and returns `make()` when there is none. */
  getOrCreate(key: string, make: () => string): string {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    const value = make();
    this.set(key, value);
    return value;
  }
}
