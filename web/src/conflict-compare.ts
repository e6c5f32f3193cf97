import { api } from './api.ts';
import type { ConflictDetail, ConflictField, ConflictSide, MergeFields } from './api-types.ts';
import { fill, formatBytes, formatDate, h } from './dom.ts';
import { lineDiff } from './line-diff.ts';
import { errorMessage } from './notify.ts';

const FIELD_NAMES: Record<ConflictField, string> = {
  filename: 'Name',
  content: 'Content',
  collections: 'Collections',
  labels: 'Labels',
  doc_id: 'Doc id',
  metadata: 'Metadata',
};

/** Diffed line by line; anything larger is compared by size and hash only. */
const TEXT_TYPES = /^(txt|xml|tei\.xml|json|csv|md|html?|ya?ml|tsv|bib|tex)$/;
const MAX_TEXT_BYTES = 2 * 1024 * 1024;
const IMAGE_TYPES = /^(png|jpe?g|gif|webp|avif|bmp)$/;

/** A field's merge choice: the select that says which side (or both) it comes from. */
export type Choices = Map<keyof MergeFields, HTMLSelectElement>;

/**
 * The table of a conflict: when and where each side changed, then every field that differs, each
 * with its two values and (when both sides are live) a choice for the merge.
 */
export function differencesTable(detail: ConflictDetail, choices: Choices): HTMLElement {
  const { local, remote } = detail;
  const mergeable = canMerge(detail);
  const row = (name: string, here: Node | string, there: Node | string, choice?: HTMLSelectElement, cls?: string) =>
    h(
      'tr',
      { class: cls ?? null },
      h('th', { scope: 'row' }, name),
      h('td', { 'data-side': 'This instance' }, here),
      h('td', { 'data-side': 'Remote' }, there),
      mergeable && h('td', { class: 'choice' }, choice ?? ''),
    );
  const rows = [
    row('Changed', changedText(local, 'this instance'), remote ? changedText(remote, remote.instance_id ? `instance ${remote.instance_id.slice(0, 8)}` : 'another instance') : '?', undefined, 'when'),
  ];
  if (!remote) rows.push(row('Remote side', '', `unreadable: ${detail.remote_problem ?? 'unknown'}`));
  for (const field of remote ? detail.differences : []) {
    const select = mergeable ? choiceFor(field, detail.local.filename) : undefined;
    if (select) choices.set(field, select);
    rows.push(row(FIELD_NAMES[field], value(field, local, remote!), value(field, remote!, local), select, `field-${field}`));
  }
  const same = remote ? (Object.keys(FIELD_NAMES) as ConflictField[]).filter((f) => !detail.differences.includes(f)) : [];
  return h(
    'div',
    { class: 'conflict-compare' },
    h(
      'table',
      { class: 'conflict-fields' },
      h('caption', { class: 'visually-hidden' }, `Differences of ${local.filename}`),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'This instance'), h('th', { scope: 'col' }, 'Remote'), mergeable && h('th', { scope: 'col' }, 'Merge keeps')),
      ),
      h('tbody', {}, ...rows),
    ),
    same.length > 0 && h('p', { class: 'muted small conflict-same' }, `Same on both sides: ${same.map((f) => FIELD_NAMES[f].toLowerCase()).join(', ')}.`),
  );
}

/**
 * Both sides live, and something to combine: tags, or several fields that differ (with only the
 * content different, "merge" would just be one of the two versions).
 */
export function canMerge(detail: ConflictDetail): boolean {
  const { local, remote, differences } = detail;
  if (!remote || local.deleted || remote.deleted) return false;
  return differences.some((f) => f === 'labels' || f === 'collections') || differences.length > 1;
}

function changedText(side: ConflictSide, where: string): string {
  return `${side.deleted ? 'deleted' : 'changed'} ${formatDate(side.modified_at)} · ${where}`;
}

/** One side's value, with tags the other side lacks marked. */
function value(field: ConflictField, side: ConflictSide, other: ConflictSide): Node | string {
  if (side.deleted && field !== 'filename') return 'deleted';
  switch (field) {
    case 'collections':
    case 'labels': {
      if (side[field].length === 0) return h('span', { class: 'muted' }, 'none');
      const theirs = new Set(other[field]);
      return h(
        'span',
        { class: 'tags' },
        ...side[field].map((tag) =>
          h('span', { class: theirs.has(tag) ? 'tag' : 'tag only', title: theirs.has(tag) ? null : 'only on this side' }, tag),
        ),
      );
    }
    case 'content':
      return h('span', { title: `sha256 ${side.hash}` }, `${formatBytes(side.size)} · ${side.file_type} · ${side.hash.slice(0, 8)}`);
    case 'metadata':
      return h('code', { class: 'metadata' }, JSON.stringify(side.metadata));
    case 'doc_id':
      return side.doc_id ?? h('span', { class: 'muted' }, 'none');
    default:
      return side.filename;
  }
}

function choiceFor(field: ConflictField, filename: string): HTMLSelectElement {
  const tags = field === 'collections' || field === 'labels';
  const options: Array<[string, string]> = [
    ...(tags ? [['both', 'Both'] as [string, string]] : []),
    ['local', 'This instance'],
    ['remote', 'Remote'],
  ];
  return h(
    'select',
    { 'aria-label': `Merge of ${filename}: keep ${FIELD_NAMES[field].toLowerCase()} from`, 'data-field': field },
    ...options.map(([value, text]) => h('option', { value }, text)),
  );
}

/** The content of both sides next to each other: a line diff for text, both previews for PDF and images. */
export async function showContent(detail: ConflictDetail, into: HTMLElement): Promise<void> {
  const { local, remote } = detail;
  if (!remote) return;
  const urls = { here: api.contentUrl(detail.file_id), there: api.remoteContentUrl(detail.file_id) };
  fill(into, h('p', { class: 'muted small' }, 'Loading both versions…'));
  try {
    if (TEXT_TYPES.test(local.file_type) && TEXT_TYPES.test(remote.file_type) && Math.max(local.size, remote.size) <= MAX_TEXT_BYTES) {
      const [here, there] = await Promise.all([text(urls.here), text(urls.there)]);
      fill(into, diffTable(here, there, local.filename));
    } else if (local.file_type === 'pdf' || IMAGE_TYPES.test(local.file_type)) {
      // PDFs in the browser's own viewer: Chromium shows none in a `sandbox`ed frame, so the guard is
      // the answer's CSP (`sandbox`, `frame-ancestors 'self'`), as in the file pane; a PDF document
      // runs no page script. Images are passive.
      const view = (url: string, title: string) =>
        local.file_type === 'pdf'
          ? h('iframe', { src: `${url}#navpanes=0`, title, class: 'preview' })
          : h('img', { src: url, alt: title, class: 'preview' });
      fill(
        into,
        h(
          'div',
          { class: 'previews' },
          h('figure', {}, view(urls.here, `This instance's version of ${local.filename}`), h('figcaption', {}, 'This instance')),
          h('figure', {}, view(urls.there, `Remote version of ${remote.filename}`), h('figcaption', {}, 'Remote')),
        ),
      );
    } else {
      fill(into, h('p', { class: 'muted small' }, `No preview for ${local.file_type} files: ${formatBytes(local.size)} here, ${formatBytes(remote.size)} on the remote.`));
    }
  } catch (error) {
    fill(into, h('p', { class: 'error', role: 'alert' }, `Could not load both versions: ${errorMessage(error)}`));
  }
}

async function text(url: string): Promise<string> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.text();
}

function diffTable(here: string, there: string, filename: string): HTMLElement {
  const rows = lineDiff(here, there);
  const cell = (side: { n: number; text: string } | undefined) => [h('td', { class: 'ln' }, side?.n ?? ''), h('td', { class: 'code' }, side?.text ?? '')];
  return h(
    'div',
    { class: 'diff-scroll' },
    h(
      'table',
      { class: 'diff' },
      h('caption', { class: 'visually-hidden' }, `Line differences of ${filename}: this instance on the left, the remote on the right`),
      // Fixed layout takes column widths from here, not from the header's spanning cells.
      h('colgroup', {}, h('col', { class: 'ln' }), h('col', {}), h('col', { class: 'ln' }), h('col', {})),
      h('thead', {}, h('tr', {}, h('th', { colspan: 2, scope: 'col' }, 'This instance'), h('th', { colspan: 2, scope: 'col' }, 'Remote'))),
      h(
        'tbody',
        {},
        ...rows.map((row) =>
          row.kind === 'skipped'
            ? h('tr', { class: 'skipped' }, h('td', { colspan: 4 }, `${row.count} unchanged lines`))
            : h('tr', { class: row.kind }, ...cell(row.left), ...cell(row.right)),
        ),
      ),
    ),
  );
}
