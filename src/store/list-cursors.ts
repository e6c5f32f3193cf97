import { BadRequestError } from '../errors.ts';
import type { FileSort, SortOrder } from './file-repository.ts';

/** The page cursors of the file lists: opaque base64url to clients, checked when they come back. */

/** Cursors are opaque to clients: a base64url rowid. */
export function encodeCursor(rowid: number): string {
  return Buffer.from(String(rowid)).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const decoded = Buffer.from(cursor, 'base64url').toString();
  const n = Number(decoded);
  if (!/^\d+$/.test(decoded) || !Number.isSafeInteger(n)) throw new BadRequestError(`cursor is not valid: '${cursor}'`);
  return n;
}

/** A sorted page's cursor: the sort it belongs to and the last row's (key, stable_id). */
export function encodeSortCursor(sort: FileSort, order: SortOrder, key: string | number, stableId: string): string {
  return Buffer.from(JSON.stringify([sort, order, key, stableId])).toString('base64url');
}

export function decodeSortCursor(cursor: string, sort: FileSort, order: SortOrder): [string | number, string] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw new BadRequestError(`cursor is not valid: '${cursor}'`);
  }
  if (!Array.isArray(value) || value.length !== 4 || typeof value[3] !== 'string' || !['string', 'number'].includes(typeof value[2])) {
    throw new BadRequestError(`cursor is not valid: '${cursor}'`);
  }
  if (value[0] !== sort || value[1] !== order) {
    throw new BadRequestError(`this cursor belongs to another sort (${String(value[0])} ${String(value[1])}); start again without a cursor`);
  }
  return [value[2] as string | number, value[3]];
}

export function encodeTrashCursor(updatedAt: string, stableId: string): string {
  return Buffer.from(JSON.stringify([updatedAt, stableId])).toString('base64url');
}

export function decodeTrashCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) return value as [string, string];
  } catch {
    // reported below
  }
  throw new BadRequestError(`cursor is not valid: '${cursor}'`);
}
