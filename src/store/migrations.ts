/**
 * Schema migrations, applied in order; migration N brings the schema to `user_version = N`.
 * Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: files, counters, sync state, users, sessions, API tokens */ `
  CREATE TABLE files (
    stable_id         TEXT PRIMARY KEY,
    hash              TEXT NOT NULL,
    filename          TEXT NOT NULL,
    file_type         TEXT NOT NULL,
    mime_type         TEXT NOT NULL,
    size              INTEGER NOT NULL,
    doc_id            TEXT,
    collections       TEXT NOT NULL DEFAULT '[]',
    labels            TEXT NOT NULL DEFAULT '[]',
    metadata          TEXT NOT NULL DEFAULT '{}',
    deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    local_modified_at TEXT NOT NULL,
    sync_status       TEXT NOT NULL CHECK (sync_status IN ('synced', 'modified', 'pending_delete', 'conflict')),
    sync_hash         TEXT,
    remote_version    INTEGER
  );
  CREATE INDEX files_hash ON files (hash);
  CREATE INDEX files_doc_id ON files (doc_id) WHERE doc_id IS NOT NULL;
  -- The sync reads only the rows that changed locally.
  CREATE INDEX files_unsynced ON files (sync_status) WHERE sync_status != 'synced';

  -- Row counts kept by triggers, so "how many unsynced / live files" is one primary-key read
  -- whatever the table size (docs/design.md#local-data-model).
  CREATE TABLE file_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TRIGGER files_count_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_counts (key, n) VALUES ('status:' || NEW.sync_status, 1), ('live', NEW.deleted = 0)
      ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
  END;
  CREATE TRIGGER files_count_delete AFTER DELETE ON files BEGIN
    INSERT INTO file_counts (key, n) VALUES ('status:' || OLD.sync_status, -1), ('live', -(OLD.deleted = 0))
      ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
  END;
  CREATE TRIGGER files_count_update AFTER UPDATE OF sync_status, deleted ON files
    WHEN OLD.sync_status != NEW.sync_status OR OLD.deleted != NEW.deleted BEGIN
    INSERT INTO file_counts (key, n) VALUES
      ('status:' || OLD.sync_status, -1),
      ('live', (NEW.deleted = 0) - (OLD.deleted = 0))
      ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
    INSERT INTO file_counts (key, n) VALUES ('status:' || NEW.sync_status, 1)
      ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
  END;

  CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );
  -- Session ids and API tokens are stored as SHA-256 digests: a copy of the database grants no access.
  CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_expires_at ON sessions (expires_at);
  CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
  );
  `,
  /* 2: what the sync engine keeps: conflicts awaiting a person, and the rows of our last commit */ `
  -- A file in conflict keeps its local content; the remote side it conflicts with is kept here.
  CREATE TABLE conflicts (
    stable_id     TEXT PRIMARY KEY REFERENCES files (stable_id) ON DELETE CASCADE,
    conflict_type TEXT NOT NULL CHECK (conflict_type IN ('modified_both', 'deleted_remote', 'deleted_local')),
    remote_row    TEXT NOT NULL,
    detected_at   TEXT NOT NULL
  ) WITHOUT ROWID;
  -- The ids pushed by this instance's last commit: re-queued if that commit is found lost (docs/design.md#lost-commits-and-rewritten-history).
  CREATE TABLE last_commit_rows (stable_id TEXT PRIMARY KEY) WITHOUT ROWID;
  `,
  /* 3: a digest of each pushed row's state: tells a row untouched since its commit (settling a commit) */ `
  ALTER TABLE last_commit_rows ADD COLUMN fingerprint TEXT;
  `,
  /* 4: every version of every file seen in a commit, for history, trash and restore (docs/design.md#history-trash-and-garbage-collection) */ `
  -- A rowid table: rows of ~0.5 KB made the WITHOUT ROWID variant twice as slow to fill (bulk pulls).
  CREATE TABLE file_versions (
    stable_id    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    filename     TEXT NOT NULL,
    file_type    TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size         INTEGER NOT NULL,
    doc_id       TEXT,
    collections  TEXT NOT NULL,
    labels       TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    deleted      INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    commit_id    TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    PRIMARY KEY (stable_id, version)
  );
  -- The primary key serves "versions of one file, newest first"; these serve pruning and blob GC.
  CREATE INDEX file_versions_committed_at ON file_versions (committed_at);
  CREATE INDEX file_versions_blob ON file_versions (hash, file_type, committed_at);
  -- The trash lists local tombstones, newest deletion first.
  CREATE INDEX files_trash ON files (updated_at, stable_id) WHERE deleted = 1;
  `,
  /* 5: the file list sorted by name, size, modified or type, a page at a time (keyset on the sort key, stable_id) */ `
  -- Each serves one sort in both directions; \`deleted\` first so the live list reads one range.
  CREATE INDEX files_sort_name ON files (deleted, filename COLLATE NOCASE, stable_id);
  CREATE INDEX files_sort_size ON files (deleted, size, stable_id);
  CREATE INDEX files_sort_modified ON files (deleted, updated_at, stable_id);
  CREATE INDEX files_sort_type ON files (deleted, file_type, stable_id);
  -- The trash (deleted = 1, newest deletion first) reads files_sort_modified now: one index less to write.
  DROP INDEX files_trash;
  `,
  /* 6: the default order (newest first) and its jumps by offset, without sorting the whole table */ `
  -- Every index ends in the rowid: this one is (deleted, rowid), the default order of the live list.
  -- Without it, a page at offset 50,000 of 100,000 files sorted all of them first (0.6 s, not 4 ms).
  CREATE INDEX files_newest ON files (deleted);
  `,
];
