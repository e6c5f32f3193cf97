import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Docsync } from '../../docsync.ts';
import { BadRequestError, NotFoundError, TooManyRequestsError } from '../../errors.ts';
import { applyBulk, parseSelection, zipSelection, type BulkAction, type FileSelection } from '../../services/file-selection.ts';

const LINK_TTL_MS = 60_000;
/** Links waiting at once: each holds a selection (up to 10,000 ids), so memory stays bounded. */
const MAX_LINKS = 100;
import { BulkBody, BulkReportSchema, errorResponses, SelectionBody } from '../schemas.ts';

/** Actions on many files (issue 13): bulk changes and a streamed zip. */
export const bulkRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  const { files } = docsync;

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

  /**
   * Zip links for the page: the browser streams a download to disk only from a navigation, and a
   * form post there carries `Origin: null` (the page sends no referrer), which the CSRF check
   * rightly refuses. So the page posts the selection (fetch, own origin) for a one-time link, then
   * follows it with a GET. A link lives a minute, and still needs the caller's session or token.
   */
  const links = new Map<string, { selection: FileSelection; expires: number }>();
  app.post(
    '/files/zip-links',
    {
      schema: {
        tags: ['files'],
        summary: 'A one-time link (valid 60 s) that downloads the selection as a zip',
        body: SelectionBody,
        response: { 201: Type.Object({ url: Type.String({ description: 'relative to /api/v1' }) }), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const now = docsync.clock.now();
      for (const [key, link] of links) if (link.expires <= now) links.delete(key);
      if (links.size >= MAX_LINKS) throw new TooManyRequestsError('Too many zip downloads waiting; try again in a minute', 60);
      const key = docsync.ids.bytes(18).toString('base64url');
      links.set(key, { selection: parseSelection(request.body), expires: now + LINK_TTL_MS });
      return reply.code(201).send({ url: `files/zip/${key}` });
    },
  );

  app.get(
    '/files/zip/:link',
    {
      schema: {
        tags: ['files'],
        summary: 'Download the zip of a link made by POST /files/zip-links (once)',
        params: Type.Object({ link: Type.String({ maxLength: 64 }) }),
        response: errorResponses(401, 404),
      },
    },
    async (request, reply) => {
      const link = links.get(request.params.link);
      links.delete(request.params.link);
      if (!link || link.expires <= docsync.clock.now()) throw new NotFoundError('This download link has expired or was used; select the files again');
      return sendZip(reply, link.selection);
    },
  );

  const sendZip = (reply: FastifyReply, selection: FileSelection) => {
    const stamp = new Date(docsync.clock.now()).toISOString().slice(0, 10);
    void reply
      .header('Content-Type', 'application/zip')
      .header('Content-Disposition', `attachment; filename="docsync-${stamp}.zip"`)
      .header('Cache-Control', 'no-store');
    return reply.send(zipSelection(files, selection) as never);
  };

  app.post(
    '/files/zip',
    {
      schema: {
        tags: ['files'],
        summary: 'Download many files as one zip (streamed)',
        description:
          'Body: the selection. The archive is written as it is sent (flat memory); names inside are safe single path ' +
          'segments, unique within the archive. Files deleted meanwhile are left out.',
        body: SelectionBody,
        response: errorResponses(400, 401),
      },
    },
    async (request, reply) => sendZip(reply, parseSelection(request.body)),
  );
};
