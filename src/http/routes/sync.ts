import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Docsync } from '../../docsync.ts';
import {
  ConflictListResponse,
  errorResponses,
  ResolveConflictBody,
  SyncBody,
  SyncStatusResponse,
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
        summary: 'Run a sync (409 when no remote is configured)',
        body: SyncBody,
        response: errorResponses(400, 401, 409),
      },
    },
    async () => docsync.sync.sync(),
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

  app.post(
    '/sync/resolve-conflict',
    {
      schema: {
        tags: ['sync'],
        summary: 'Resolve a conflict: local_wins, remote_wins or keep_both',
        body: ResolveConflictBody,
        response: errorResponses(400, 401, 404, 409),
      },
    },
    async (request) => docsync.sync.resolveConflict(request.body.file_id, request.body.resolution),
  );
};
