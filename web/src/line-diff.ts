/** One row of a side-by-side diff: a line on either side or both (numbers count from 1). */
export interface DiffRow {
  kind: 'same' | 'removed' | 'added' | 'changed' | 'skipped';
  left?: { n: number; text: string };
  right?: { n: number; text: string };
  /** `skipped`: how many unchanged lines are folded away. */
  count?: number;
}

/** Above this many cells the middle part is shown as removed-then-added instead of aligned (memory stays ~4 MB). */
const MAX_CELLS = 1_000_000;

/**
 * A line diff for two texts, side by side: the common start and end are trimmed, the rest aligned by
 * a longest common subsequence; a removed run next to an added run pairs up as changed lines, and
 * unchanged runs longer than twice `context` are folded.
 */
export function lineDiff(before: string, after: string, context = 3): DiffRow[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: Array<'=' | '-' | '+'> = [];
  for (let i = 0; i < start; i++) ops.push('=');
  ops.push(...middle(a.slice(start, endA), b.slice(start, endB)));
  for (let i = endA; i < a.length; i++) ops.push('=');
  return fold(pair(ops, a, b), context);
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** LCS over the differing middle; without room for the table, everything removed then added. */
function middle(a: string[], b: string[]): Array<'=' | '-' | '+'> {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_CELLS) return [...a.map(() => '-' as const), ...b.map(() => '+' as const)];
  const w = m + 1;
  // lcs[i*w + j]: length of the LCS of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: Array<'=' | '-' | '+'> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push('=');
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) {
      ops.push('-');
      i++;
    } else {
      ops.push('+');
      j++;
    }
  }
  while (i++ < n) ops.push('-');
  while (j++ < m) ops.push('+');
  return ops;
}

/** Operations to rows; within one block of changes, removed and added lines share rows. */
function pair(ops: Array<'=' | '-' | '+'>, a: string[], b: string[]): DiffRow[] {
  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; k < ops.length; ) {
    if (ops[k] === '=') {
      rows.push({ kind: 'same', left: { n: i + 1, text: a[i]! }, right: { n: j + 1, text: b[j]! } });
      i++;
      j++;
      k++;
      continue;
    }
    const removed: number[] = [];
    const added: number[] = [];
    for (; k < ops.length && ops[k] !== '='; k++) (ops[k] === '-' ? removed.push(i++) : added.push(j++));
    for (let r = 0; r < Math.max(removed.length, added.length); r++) {
      const x = removed[r];
      const y = added[r];
      rows.push({
        kind: x !== undefined && y !== undefined ? 'changed' : x !== undefined ? 'removed' : 'added',
        ...(x !== undefined && { left: { n: x + 1, text: a[x]! } }),
        ...(y !== undefined && { right: { n: y + 1, text: b[y]! } }),
      });
    }
  }
  return rows;
}

function fold(rows: DiffRow[], context: number): DiffRow[] {
  const out: DiffRow[] = [];
  for (let k = 0; k < rows.length; ) {
    if (rows[k]!.kind !== 'same') {
      out.push(rows[k++]!);
      continue;
    }
    let end = k;
    while (end < rows.length && rows[end]!.kind === 'same') end++;
    const keepStart = k === 0 ? 0 : context;
    const keepEnd = end === rows.length ? 0 : context;
    if (end - k > keepStart + keepEnd + 1) {
      out.push(...rows.slice(k, k + keepStart), { kind: 'skipped', count: end - k - keepStart - keepEnd }, ...rows.slice(end - keepEnd, end));
    } else {
      out.push(...rows.slice(k, end));
    }
    k = end;
  }
  return out;
}
