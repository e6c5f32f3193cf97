import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Docsync } from '../../docsync.ts';
import { applyContentPolicy } from '../content-policy.ts';
import {
  ConflictDetailResponse,
  ConflictListResponse,
  FileIdParams,
  errorResponses,
  ResolutionResponse,
  ResolveConflictBody,
  SyncBody,
  SyncStatusResponse,
  SyncSummarySchema,
} from '../schemas.ts';

export const syncRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  app.get(
    '/sync/status',
    {
      schema: {
        tags: ['sync'],
        summary: 'Is there anything to sync? Answers without scanning',
        response: { 200: SyncStatusResponse, ...errorResponses(401) },
      },
    },
    async () => docsync.sync.status(),
  );

  app.post(
    '/sync',
    {
      // `{force?}` is optional: a bare POST means `{}`.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['sync'],
        summary: 'Run a sync and return its summary (joins a sync already running)',
        description:
          '409 when no remote is configured, when another process syncs this data dir, when the remote was replaced, ' +
          'or when the sync would delete more than the configured share of files (retry with force).',
        body: SyncBody,
        response: { 200: SyncSummarySchema, ...errorResponses(400, 401, 409, 502) },
      },
    },
    async (request) =>
      docsync.sync.sync({ force: request.body.force ?? false, dryRun: request.body.dry_run ?? false }, request.sessionId),
  );

  app.get(
    '/sync/conflicts',
    {
      schema: { tags: ['sync'], summary: 'Files in conflict', response: { 200: ConflictListResponse, ...errorResponses(401) } },
    },
    async () => {
      const conflicts = docsync.sync.conflicts();
      return { conflicts, total: conflicts.length };
    },
  );

  app.get(
    '/sync/conflicts/:id',
    {
      schema: {
        tags: ['sync'],
        summary: 'One conflict: both sides in full, with the time and instance of each, and the fields that differ',
        params: FileIdParams,
        response: { 200: ConflictDetailResponse, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => docsync.sync.conflictDetail(request.params.id),
  );

  app.get(
    '/sync/conflicts/:id/remote-content',
    {
      schema: {
        tags: ['sync'],
        summary: "The remote side's content of a conflict (fetched from the remote and verified when not here)",
        description: 'Served like GET /files/:id/content: the type from the remote side\'s filename, inline only for passive types.',
        params: FileIdParams,
        response: errorResponses(400, 401, 404, 409, 502),
      },
    },
    async (request, reply) => {
      const row = await docsync.sync.remoteConflictContent(request.params.id);
      applyContentPolicy(reply, row.filename);
      void reply.header('ETag', `"${row.hash}"`).header('Cache-Control', 'private, no-cache').header('Content-Length', row.size);
      return reply.send(docsync.files.openContent(row) as never);
    },
  );

  app.post(
    '/sync/resolve-conflict',
    {
      schema: {
        tags: ['sync'],
        summary: 'Resolve a conflict: local_wins, remote_wins, keep_both, or merge (field by field; tags: the union)',
        body: ResolveConflictBody,
        response: { 200: ResolutionResponse, ...errorResponses(400, 401, 404, 409, 502) },
      },
    },
    async (request) => docsync.sync.resolveConflict(request.body.file_id, request.body.resolution, request.body.fields),
  );
};
