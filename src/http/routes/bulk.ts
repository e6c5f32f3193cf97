import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Docsync } from '../../docsync.ts';
import { BadRequestError } from '../../errors.ts';
import { applyBulk, parseSelection, zipSelection, type BulkAction } from '../../services/file-selection.ts';
import { BulkBody, BulkReportSchema, errorResponses, SelectionBody } from '../schemas.ts';

/** Actions on many files (issue 13): bulk changes and a streamed zip. */
export const bulkRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  const { files } = docsync;

  // The page downloads a zip through a plain form post (the browser then streams it to disk):
  // its one field, `selection`, holds the same JSON as the API body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
    const field = new URLSearchParams(body as string).get('selection');
    try {
      done(null, field === null ? {} : JSON.parse(field));
    } catch {
      done(new BadRequestError('the form field `selection` must be JSON'), undefined);
    }
  });

  app.post(
    '/files/bulk',
    {
      schema: {
        tags: ['files'],
        summary: 'Delete, label or collect many files',
        description:
          'The selection is `ids`, or `filter` (+ `except`) for every live file matching it. Each file changes on its own: ' +
          'the answer counts the files done and lists why others failed (a file deleted meanwhile: `not_found`).',
        body: BulkBody,
        response: { 200: BulkReportSchema, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { action, values, ...selection } = request.body;
      if (action !== 'delete' && (values === undefined || values.length === 0)) {
        throw new BadRequestError(`${action} needs \`values\` (the labels or collections)`);
      }
      const bulk: BulkAction = action === 'delete' ? { action } : { action, values: values! };
      return applyBulk(files, parseSelection(selection), bulk);
    },
  );

  app.post(
    '/files/zip',
    {
      schema: {
        tags: ['files'],
        summary: 'Download many files as one zip (streamed)',
        description:
          'Body: the selection as JSON, or a form post whose field `selection` holds it. The archive is written as it is ' +
          'sent; names inside are safe and unique. Files deleted meanwhile are left out.',
        consumes: ['application/json', 'application/x-www-form-urlencoded'],
        body: SelectionBody,
        response: errorResponses(400, 401),
      },
    },
    async (request, reply) => {
      const selection = parseSelection(request.body);
      const stamp = new Date(docsync.clock.now()).toISOString().slice(0, 10);
      void reply
        .header('Content-Type', 'application/zip')
        .header('Content-Disposition', `attachment; filename="docsync-${stamp}.zip"`)
        .header('Cache-Control', 'no-store');
      return reply.send(zipSelection(files, selection) as never);
    },
  );
};
