import { Type } from 'typebox';
import { LIMITS } from '../domain/file.ts';
import { STABLE_ID_PATTERN } from '../domain/ids.ts';

/** Route schemas: they validate input (400 naming the field) and shape output (unknown fields are dropped). */

export const ErrorSchema = Type.Object(
  { error: Type.String(), message: Type.String(), statusCode: Type.Integer() },
  { $id: 'Error', description: 'Every error answer: a code, a message for people, the HTTP status' },
);

export const errorResponses = (...codes: number[]): Record<number, typeof ErrorSchema> =>
  Object.fromEntries(codes.map((code) => [code, ErrorSchema]));

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Tags = Type.Array(Type.String({ maxLength: LIMITS.tagLength }), { maxItems: LIMITS.tagCount });
const FreeObject = Type.Record(Type.String(), Type.Unknown());

export const FileSchema = Type.Object(
  {
    stable_id: Type.String(),
    hash: Type.String({ description: 'sha256 of the content' }),
    filename: Type.String(),
    file_type: Type.String(),
    mime_type: Type.String(),
    size: Type.Integer(),
    doc_id: Nullable(Type.String()),
    collections: Type.Array(Type.String()),
    labels: Type.Array(Type.String()),
    metadata: FreeObject,
    deleted: Type.Boolean(),
    created_at: Type.String(),
    updated_at: Type.String(),
    local_modified_at: Type.String(),
    sync_status: Type.Enum(['synced', 'modified', 'pending_delete', 'conflict']),
    sync_hash: Nullable(Type.String()),
    remote_version: Nullable(Type.Integer()),
  },
  { $id: 'File' },
);

export const FileIdParams = Type.Object({
  id: Type.String({
    pattern: STABLE_ID_PATTERN.source,
    description: 'the file stable_id',
  }),
});

export const FileListQuery = Type.Object(
  {
    collection: Type.Optional(Type.String({ maxLength: LIMITS.tagLength })),
    label: Type.Optional(Type.String({ maxLength: LIMITS.tagLength })),
    doc_id: Type.Optional(Type.String({ maxLength: LIMITS.docIdLength })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'case-insensitive part of the filename' })),
    include_deleted: Type.Optional(Type.Boolean({ default: false })),
    sort: Type.Optional(Type.Enum(['name', 'size', 'modified', 'type'], { description: 'without it: newest first' })),
    order: Type.Optional(Type.Enum(['asc', 'desc'], { default: 'asc', description: 'with `sort`' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    // A sorted page's cursor holds the last row's key (a filename: up to 255 characters).
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
    // A windowed list scrolled far jumps to a position; the pages after it go on by cursor.
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'rows to skip; not with `cursor`' })),
  },
  { additionalProperties: false },
);

export const FileListResponse = Type.Object({
  files: Type.Array(FileSchema),
  total: Type.Integer(),
  next_cursor: Nullable(Type.String()),
});

export const MetadataPatchBody = Type.Object(
  {
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.filenameLength * 4 })),
    collections: Type.Optional(Tags),
    labels: Type.Optional(Tags),
    metadata: Type.Optional(FreeObject),
    doc_id: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: LIMITS.docIdLength }))),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const ApiTokenSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  created_at: Type.String(),
  last_used_at: Nullable(Type.String()),
});

export const CreateTokenBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }) },
  { additionalProperties: false },
);

export const TokenIdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

export const SyncStatusResponse = Type.Object({
  needs_sync: Type.Boolean(),
  local_version: Nullable(Type.Integer()),
  remote_version: Nullable(Type.Integer()),
  unsynced_count: Type.Integer(),
  last_sync_time: Nullable(Type.String()),
  sync_in_progress: Type.Boolean(),
  remote_configured: Type.Boolean(),
  remote: Type.String({ description: 'where the remote is, without credentials' }),
  remote_error: Nullable(Type.String({ description: 'why the remote could not be read' })),
  remote_capabilities: Nullable(
    Type.Object({
      conditionalPut: Type.Boolean(),
      ifMatch: Type.Boolean(),
      exclusiveMkcol: Type.Boolean(),
      etagChangesOnWrite: Type.Boolean(),
      probed_at: Type.String(),
    }),
  ),
  lock_atomic: Nullable(Type.Boolean({ description: 'whether the sync lock gives mutual exclusion on this server' })),
});

export const SyncBody = Type.Object(
  {
    force: Type.Optional(Type.Boolean({ description: 'skip the quick check and pass the mass-delete guard' })),
    dry_run: Type.Optional(Type.Boolean({ description: 'plan and report, change nothing' })),
  },
  { additionalProperties: false },
);

export const SyncSummarySchema = Type.Object({
  skipped: Type.Boolean(),
  uploaded: Type.Integer(),
  downloaded: Type.Integer(),
  deleted_local: Type.Integer(),
  deleted_remote: Type.Integer(),
  metadata_synced: Type.Integer(),
  conflicts: Type.Integer(),
  errors: Type.Integer(),
  skipped_rows: Type.Integer({ description: 'remote rows left out because they are invalid (see message)' }),
  new_version: Nullable(Type.Integer()),
  duration_ms: Type.Integer(),
  message: Type.String(),
  bytes_uploaded: Type.Integer(),
  bytes_downloaded: Type.Integer(),
});

export const ConflictListResponse = Type.Object({
  conflicts: Type.Array(
    Type.Object({
      file_id: Type.String(),
      stable_id: Type.String(),
      filename: Type.String(),
      doc_id: Nullable(Type.String()),
      conflict_type: Type.Enum(['modified_both', 'deleted_remote', 'deleted_local']),
      local_modified_at: Type.String(),
      local_hash: Type.String(),
      local_deleted: Type.Boolean(),
      remote_modified_at: Nullable(Type.String()),
      remote_hash: Nullable(Type.String()),
      remote_deleted: Type.Boolean(),
      remote_filename: Type.String(),
      remote_collections: Type.Array(Type.String()),
      remote_labels: Type.Array(Type.String()),
    }),
  ),
  total: Type.Integer(),
});

export const ResolutionResponse = Type.Object({
  stable_id: Type.String(),
  resolution: Type.String(),
  copy_id: Nullable(Type.String({ description: 'keep_both: the new file holding the local version' })),
  message: Type.String(),
});

const Side = Type.Enum(['local', 'remote']);
const TagSide = Type.Enum(['local', 'remote', 'both']);

export const ResolveConflictBody = Type.Object(
  {
    file_id: Type.String({ minLength: 1, maxLength: 64 }),
    resolution: Type.Enum(['local_wins', 'remote_wins', 'keep_both', 'merge']),
    fields: Type.Optional(
      Type.Object(
        {
          filename: Type.Optional(Side),
          doc_id: Type.Optional(Side),
          metadata: Type.Optional(Side),
          content: Type.Optional(Side),
          collections: Type.Optional(TagSide),
          labels: Type.Optional(TagSide),
        },
        {
          additionalProperties: false,
          description: 'merge only: the side each field comes from (default: collections and labels both, the rest local)',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const ConflictSideSchema = Type.Object({
  deleted: Type.Boolean(),
  filename: Type.String(),
  file_type: Type.String(),
  mime_type: Type.String(),
  size: Type.Integer(),
  hash: Type.String(),
  doc_id: Nullable(Type.String()),
  collections: Type.Array(Type.String()),
  labels: Type.Array(Type.String()),
  metadata: FreeObject,
  modified_at: Type.String(),
  instance_id: Nullable(Type.String({ description: 'the instance that made this side, when known' })),
  version: Nullable(Type.Integer({ description: 'the remote version of the remote side' })),
});

export const ConflictDetailResponse = Type.Object({
  file_id: Type.String(),
  conflict_type: Type.Enum(['modified_both', 'deleted_remote', 'deleted_local']),
  detected_at: Type.String(),
  local: ConflictSideSchema,
  remote: Nullable(ConflictSideSchema),
  remote_problem: Nullable(Type.String()),
  differences: Type.Array(Type.Enum(['filename', 'content', 'collections', 'labels', 'doc_id', 'metadata'])),
});

/** One version of a file (docs/design.md#history-trash-and-garbage-collection), as `GET /files/:id/history` lists it. */
export const FileVersionSchema = Type.Object(
  {
    version: Type.Integer({ description: "the remote version at which the file's row took this state" }),
    committed_at: Type.String({ description: 'when the commit was made (UTC)' }),
    instance_id: Type.String({ description: 'the instance that made the commit' }),
    filename: Type.String(),
    hash: Type.String({ description: 'sha256 of the content' }),
    size: Type.Integer(),
    file_type: Type.String(),
    collections: Type.Array(Type.String()),
    labels: Type.Array(Type.String()),
    doc_id: Nullable(Type.String()),
    deleted: Type.Boolean({ description: 'this version is the deletion of the file' }),
    current: Type.Boolean({ description: 'the version the local file was last synced at' }),
  },
  { $id: 'FileVersion' },
);

export const FileHistoryResponse = Type.Object({ versions: Type.Array(FileVersionSchema) });

export const FileVersionParams = Type.Object({
  id: FileIdParams.properties.id,
  version: Type.Integer({ minimum: 1, description: 'a version from the file history' }),
});

export const TrashQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const TrashResponse = Type.Object({
  files: Type.Array(FileSchema, { description: 'deleted files, newest deletion first' }),
  next_cursor: Nullable(Type.String()),
});

/** Many files: explicit ids, or all the live files matching a filter (minus `except`). */
const SelectionFields = {
  ids: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 10_000 })),
  filter: Type.Optional(
    Type.Object(
      {
        collection: Type.Optional(Type.String({ maxLength: LIMITS.tagLength })),
        label: Type.Optional(Type.String({ maxLength: LIMITS.tagLength })),
        doc_id: Type.Optional(Type.String({ maxLength: LIMITS.docIdLength })),
        q: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false, description: 'every live file matching it (an empty filter: every live file)' },
    ),
  ),
  except: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 10_000, description: 'with `filter`: ids left out' })),
};

export const SelectionBody = Type.Object(SelectionFields, { additionalProperties: false });

export const BulkBody = Type.Object(
  {
    ...SelectionFields,
    action: Type.Enum(['delete', 'add_labels', 'remove_labels', 'add_collections', 'remove_collections']),
    values: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export const BulkReportSchema = Type.Object({
  done: Type.Integer({ description: 'files changed, or already as asked' }),
  failed: Type.Integer(),
  failures: Type.Array(Type.Object({ id: Type.String(), error: Type.String(), message: Type.String() }), {
    description: 'the first 100 failures, each with its reason',
  }),
});
