import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite driver: better-sqlite3 13 where it installs (Node >= 22), better-sqlite3 12 on Node 20.
 *
 * 12 wraps its objects with `node::ObjectWrap`. From Node 24.19 on, an ObjectWrap removes an
 * environment cleanup hook when it is collected, and a statement collected while no Environment is
 * current aborts the whole process (`Assertion failed: (env) != nullptr`, nodejs/node#65446): seen at
 * exit and, in long-running servers, in the middle of the day. 13 is the same API built on
 * node-addon-api, which does not do that, but it declares Node >= 22. So 13 is an optional
 * dependency under the alias `better-sqlite3-napi`: npm leaves it out on Node 20 (its `engines`
 * do not match), and this module takes it wherever it is installed.
 */
export interface SqliteDriver {
  /** The constructor, `new Sqlite(file)`. */
  readonly Database: typeof BetterSqlite3;
  /** `better-sqlite3 13.2.0`, for `docsync --version` and bug reports. */
  readonly description: string;
}

const require = createRequire(import.meta.url);

function load(): SqliteDriver {
  for (const name of ['better-sqlite3-napi', 'better-sqlite3']) {
    let Database: typeof BetterSqlite3;
    try {
      Database = require(name) as typeof BetterSqlite3;
    } catch (error) {
      // Only a missing package moves on: one that is there and fails to load is a broken install.
      if ((error as { code?: string }).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) continue;
      throw error;
    }
    const { version } = require(`${name}/package.json`) as { version: string };
    return { Database, description: `better-sqlite3 ${version}` };
  }
  throw new Error('better-sqlite3 is not installed: run npm install');
}

export const sqlite: SqliteDriver = load();

/** The driver's constructor: `new Sqlite(file, options)`, typed as better-sqlite3's. */
export const Sqlite = sqlite.Database;
