import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Row {
  cells: string[];
  /** Whether the row meets its target; undefined when the row has no target. */
  ok?: boolean;
}

export interface Table {
  title: string;
  columns: string[];
  /** Columns whose cells are left-aligned (text); the others are numbers, right-aligned. */
  textColumns?: number[];
  rows: Row[];
  notes?: string[];
}

/** One line naming the machine, so numbers from different hosts are never compared blindly. */
export function machineLine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  const ramGb = (os.totalmem() / 1e9).toFixed(1);
  return `${cpus.length} cores (${model}), ${ramGb} GB RAM, node ${process.version}, ${os.platform()} ${os.arch()}`;
}

const okMark = (ok: boolean | undefined): string => (ok === undefined ? '' : ok ? '✓' : '✗');

export function renderTable(table: Table): string {
  const header = [...table.columns, 'ok'];
  const body = table.rows.map((row) => [...row.cells, okMark(row.ok)]);
  const widths = header.map((name, c) => Math.max(name.length, ...body.map((cells) => (cells[c] ?? '').length)));
  const isText = (c: number): boolean => c === 0 || (table.textColumns ?? []).includes(c) || c === header.length - 1;
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (isText(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    `## ${table.title} — ${machineLine()}`,
    line(header),
    rule,
    ...body.map(line),
    ...(table.notes ?? []).map((note) => `   ${note}`),
  ].join('\n');
}

/** 1234567 → "1,234,567". */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
/** Microseconds with a sensible number of digits. */
export const us = (n: number): string => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
export const fixed = (n: number, digits: number): string => n.toFixed(digits);
/** Bytes as decimal megabytes (10^6), the unit of the targets. */
export const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/** Which source was measured: the commit, and whether src/ had uncommitted changes (others edit it concurrently). */
export function sourceLine(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    return `src at commit ${commit}${dirty > 0 ? ` + uncommitted changes in ${dirty} file(s) of src/` : ' (no uncommitted change in src/)'}`;
  } catch {
    return 'src version unknown (no git)';
  }
}
