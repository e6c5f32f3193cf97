import fs from 'node:fs';
import { dataPaths } from '../src/docsync.ts';
import { tempDir } from './cleanup.ts';
import { openBenchDocsync } from './instance.ts';
import { RowFactory } from './rows.ts';
import { timeSeconds } from './stats.ts';
import { fixed, int, mb, type Table } from './table.ts';

export interface InsertOptions {
  rows: number;
}

const TARGET_SECONDS = 10;

/** One `insertMany` of `rows` rows (one transaction) into an empty database. */
export function benchInsert(options: InsertOptions, log: (line: string) => void): Table {
  const tmp = tempDir('insert');
  try {
    log(`insert: generating ${int(options.rows)} rows…`);
    // Generated beforehand so the timing is the database's, not the generator's.
    const rows = new RowFactory(options.rows).batch(0, options.rows);
    const docsync = openBenchDocsync(tmp.dir);
    let seconds: number;
    let stored: number;
    try {
      log('insert: inserting…');
      seconds = timeSeconds(() => docsync.fileRepository.insertMany(rows));
      stored = docsync.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM files').get()!.n;
      // Fold the WAL into the database so the size below is what the rows take.
      docsync.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      docsync.close();
    }
    if (stored !== options.rows) throw new Error(`inserted ${stored} rows, expected ${options.rows}`);
    const dbBytes = fs.statSync(dataPaths(tmp.dir).database).size;
    return {
      title: 'Bulk insert',
      columns: ['rows', 'seconds', 'rows/s', 'db MB', 'target'],
      textColumns: [4],
      rows: [
        {
          cells: [int(options.rows), fixed(seconds, 2), int(options.rows / seconds), mb(dbBytes), `< ${TARGET_SECONDS} s`],
          ok: seconds < TARGET_SECONDS,
        },
      ],
      notes: [
        'fileRepository.insertMany(rows): one transaction into an empty data dir (counter triggers and indexes included).',
        'Rows are generated before the clock starts; db MB = docsync.db after a WAL checkpoint.',
      ],
    };
  } finally {
    tmp.remove();
  }
}
