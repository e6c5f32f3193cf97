import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Docsync } from '../../docsync.ts';
import { errorResponses, FileHistoryResponse, FileIdParams, FileSchema, FileVersionParams, TrashQuery, TrashResponse } from '../schemas.ts';

/** File history, trash and restore (docs/design.md#history-trash-and-garbage-collection). A restore is a local change: the next sync shares it. */
export const historyRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  const { history } = docsync;

  app.get(
    '/files/:id/history',
    {
      schema: {
        tags: ['history'],
        summary: "A file's versions inside the history window, newest first",
        params: FileIdParams,
        response: { 200: FileHistoryResponse, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => ({ versions: history.versions(request.params.id) }),
  );

  app.post(
    '/files/:id/history/:version/restore',
    {
      schema: {
        tags: ['history'],
        summary: 'Give the file the content and metadata of one of its versions (a local change)',
        description:
          'The content is fetched from the remote when it is no longer on this instance. ' +
          '409 when the file is in conflict, the version is a deletion, or the content cannot be had.',
        params: FileVersionParams,
        response: { 200: FileSchema, ...errorResponses(400, 401, 404, 409, 502, 503) },
      },
    },
    async (request) => history.restoreVersion(request.params.id, request.params.version),
  );

  app.get(
    '/trash',
    {
      schema: {
        tags: ['history'],
        summary: 'Files deleted inside the history window, newest deletion first',
        querystring: TrashQuery,
        response: { 200: TrashResponse, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = history.trash({ limit: limit ?? 50, ...(cursor !== undefined && { cursor }) });
      return { files: page.files, next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/trash/:id/restore',
    {
      schema: {
        tags: ['history'],
        summary: 'Bring a deleted file back with its last content and metadata (a local change)',
        description: '409 when the file is not deleted, is in conflict, or its content cannot be had.',
        params: FileIdParams,
        response: { 200: FileSchema, ...errorResponses(400, 401, 404, 409, 502, 503) },
      },
    },
    async (request) => history.restoreDeleted(request.params.id),
  );
};
