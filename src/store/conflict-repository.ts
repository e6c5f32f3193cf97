import type { Statement } from 'better-sqlite3';
import { readSharedRow } from '../domain/shared-row.ts';
import type { ConflictType } from '../domain/conflict.ts';
import type { RemoteFileRow } from '../domain/shared-row.ts';
import type { Db } from './database.ts';

export interface StoredConflict {
  stable_id: string;
  conflict_type: ConflictType;
  /**
   * The remote side, as last seen: what `remote_wins` adopts. Checked again when read (an older
   * build stored remote rows unchecked); undefined, with `remote_problem`, when it fails.
   */
  remote: RemoteFileRow | undefined;
  remote_problem?: string;
  detected_at: string;
}

/** Conflicts awaiting a person (the local row has `sync_status = 'conflict'`). */
export class ConflictRepository {
  private readonly upsertStmt: Statement<[string, string, string, string]>;
  private readonly getStmt: Statement<[string], Row>;
  private readonly listStmt: Statement<[], Row>;
  private readonly deleteStmt: Statement<[string]>;

  constructor(db: Db) {
    this.upsertStmt = db.prepare(`INSERT INTO conflicts (stable_id, conflict_type, remote_row, detected_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (stable_id) DO UPDATE SET conflict_type = excluded.conflict_type, remote_row = excluded.remote_row`);
    this.getStmt = db.prepare('SELECT * FROM conflicts WHERE stable_id = ?');
    this.listStmt = db.prepare('SELECT * FROM conflicts ORDER BY detected_at, stable_id');
    this.deleteStmt = db.prepare('DELETE FROM conflicts WHERE stable_id = ?');
  }

  /** Records a conflict, or refreshes its remote side (keeping when it was first detected). */
  upsert(stableId: string, type: ConflictType, remote: RemoteFileRow, detectedAt: string): void {
    this.upsertStmt.run(stableId, type, JSON.stringify(remote), detectedAt);
  }

  get(stableId: string): StoredConflict | undefined {
    const row = this.getStmt.get(stableId);
    return row && fromRow(row);
  }

  list(): StoredConflict[] {
    return this.listStmt.all().map(fromRow);
  }

  delete(stableId: string): void {
    this.deleteStmt.run(stableId);
  }
}

interface Row {
  stable_id: string;
  conflict_type: ConflictType;
  remote_row: string;
  detected_at: string;
}

function fromRow(row: Row): StoredConflict {
  const conflict = { stable_id: row.stable_id, conflict_type: row.conflict_type, detected_at: row.detected_at };
  let decoded: unknown;
  try {
    decoded = JSON.parse(row.remote_row);
  } catch {
    return { ...conflict, remote: undefined, remote_problem: 'the stored remote row is not JSON' };
  }
  if (decoded === null || typeof decoded !== 'object') return { ...conflict, remote: undefined, remote_problem: 'the stored remote row is not an object' };
  const reading = readSharedRow(decoded as Record<string, unknown>);
  return reading.ok ? { ...conflict, remote: reading.row } : { ...conflict, remote: undefined, remote_problem: reading.rejected.problem };
}
