import { describe, expect, it } from 'vitest';
import { Sqlite, sqlite } from '../../src/store/sqlite.ts';

const major = Number(process.versions.node.split('.')[0]);

describe('the SQLite driver', () => {
  // better-sqlite3 12 aborts Node 24.19+ when a statement is collected (nodejs/node#65446): where Node
  // allows 13 (22 and later), npm installs the optional `better-sqlite3-napi` and it must be the one used.
  it(`is better-sqlite3 ${major >= 22 ? 13 : 12} on Node ${major}`, () => {
    expect(sqlite.description).toMatch(major >= 22 ? /^better-sqlite3 13\./ : /^better-sqlite3 12\./);
  });

  it('opens a database and survives a thousand statements collected while other work goes on', async () => {
    const db = new Sqlite(':memory:');
    db.exec('CREATE TABLE t (n INTEGER)');
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) db.prepare('INSERT INTO t (n) VALUES (?)').run(i);
      await new Promise((resolve) => setImmediate(resolve));
      (globalThis as { gc?: () => void }).gc?.();
    }
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1000 });
    db.close();
  });
});
