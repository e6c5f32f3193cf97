import mime from 'mime-types';
import { isoUtc } from '../src/domain/clock.ts';
import { fileTypeOf, type FileRecord, type SyncStatus } from '../src/domain/file.ts';
import { newStableId, seededIdSource, type IdSource } from '../src/domain/ids.ts';

const STEMS = ['thesis-chapter', 'letter', 'invoice', 'review', 'minutes', 'report', 'transcript', 'manuscript'];
const EXTENSIONS = ['pdf', 'pdf', 'pdf', 'tei.xml', 'xml', 'txt', 'docx', 'odt'];
const COLLECTIONS = ['thesis', 'papers', 'letters', 'reviews', 'archive', 'inbox'];
const LABELS = ['draft', 'final', 'ocr', 'needs-review', 'signed', 'translated'];
const AUTHORS = ['Ada Lovelace', 'Émilie du Châtelet', 'Alan Turing', 'Grace Hopper', 'Kurt Gödel', 'Hedy Lamarr'];
const START_MS = Date.parse('2023-01-01T00:00:00.000Z');
const DAY_MS = 24 * 3600 * 1000;

/**
 * The share of rows in each unsynced state: 1% modified, 0.1% tombstones waiting to be pushed,
 * 0.02% conflicts — everything else synced. Chosen by index so a fill of N rows is reproducible.
 */
export function statusOf(i: number): SyncStatus {
  if (i % 1000 === 1) return 'pending_delete';
  if (i % 5000 === 2) return 'conflict';
  if (i % 100 === 0) return 'modified';
  return 'synced';
}

/** Rows that look like a real store: PDFs with their TEI twins, tags, a little metadata, varied sizes. */
export class RowFactory {
  private readonly ids: IdSource;

  constructor(seed: number) {
    this.ids = seededIdSource(seed);
  }

  /** A number in [0, 1) from the seeded source. */
  private random(): number {
    return this.ids.bytes(4).readUInt32LE() / 2 ** 32;
  }

  private hash(): string {
    return this.ids.bytes(32).toString('hex');
  }

  row(i: number): FileRecord {
    const status = statusOf(i);
    const filename = `${STEMS[i % STEMS.length]}-${String(i).padStart(7, '0')}.${EXTENSIONS[(i >> 3) % EXTENSIONS.length]}`;
    const hash = this.hash();
    const created = START_MS + i * 29_000;
    const updated = created + Math.floor(this.random() * 30 * DAY_MS);
    return {
      stable_id: newStableId(this.ids),
      hash,
      filename,
      file_type: fileTypeOf(filename),
      mime_type: mime.lookup(filename) || 'application/octet-stream',
      // Log-uniform from 2 KB to 20 MB: many small text files, some large scans.
      size: Math.round(2048 * 10_000 ** this.random()),
      doc_id: i % 10 < 7 ? `doc-${Math.floor(i / 2)}` : null,
      collections: [COLLECTIONS[i % COLLECTIONS.length]!],
      labels: i % 3 === 0 ? [LABELS[i % LABELS.length]!, LABELS[(i + 1) % LABELS.length]!] : [],
      metadata: { title: `Document ${i}`, author: AUTHORS[i % AUTHORS.length], year: 1990 + (i % 35), pages: 1 + (i % 400) },
      deleted: status === 'pending_delete',
      created_at: isoUtc(created),
      updated_at: isoUtc(updated),
      local_modified_at: isoUtc(updated),
      sync_status: status,
      ...this.syncFields(i, status, hash),
    };
  }

  /** `sync_hash`/`remote_version` as the sync would have left them for each state. */
  private syncFields(i: number, status: SyncStatus, hash: string): Pick<FileRecord, 'sync_hash' | 'remote_version'> {
    const remoteVersion = 1 + (i % 997);
    switch (status) {
      case 'synced':
      case 'pending_delete':
        return { sync_hash: hash, remote_version: remoteVersion };
      case 'modified':
        // Half never synced (new files), half changed since their last sync.
        return i % 200 === 0 ? { sync_hash: null, remote_version: null } : { sync_hash: this.hash(), remote_version: remoteVersion };
      case 'conflict':
        return { sync_hash: this.hash(), remote_version: remoteVersion };
    }
  }

  /** Rows `from` … `to - 1`. */
  batch(from: number, to: number): FileRecord[] {
    const rows: FileRecord[] = [];
    for (let i = from; i < to; i++) rows.push(this.row(i));
    return rows;
  }
}
