import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';
import { PassThrough, type Readable } from 'node:stream';
import { Type } from 'typebox';
import type { Docsync } from '../../docsync.ts';
import { BadRequestError, PayloadTooLargeError } from '../../errors.ts';
import { applyContentPolicy } from '../content-policy.ts';
import type { NewFileInput } from '../../services/file-service.ts';
import type { StagedBlob } from '../../store/blob-store.ts';
import { errorResponses, FileIdParams, FileListQuery, FileListResponse, FileSchema, MetadataPatchBody } from '../schemas.ts';

const UPLOAD_FIELDS = new Set(['filename', 'doc_id', 'collections', 'labels', 'metadata']);
/** Room for multipart boundaries and the small fields around the file. */
const MULTIPART_OVERHEAD = 1024 * 1024;

export const fileRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  const { files } = docsync;
  const maxBytes = docsync.config.maxUploadBytes;
  /** One message for every upload over the limit, whichever layer noticed it first. */
  const stageLimited = async (source: Readable, request: FastifyRequest, reply: FastifyReply): Promise<StagedBlob> => {
    try {
      // The body's declared size (a multipart body: the file and a little more) picks where it is hashed.
      return await files.stage(source, declaredBytes(request));
    } catch (error) {
      const tooLarge = error instanceof PayloadTooLargeError || (error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE';
      if (!tooLarge) throw error;
      // The client may still be sending: the answer closes the connection (as Fastify's own body
      // limit does) rather than leaving the rest of the body to be read or the request destroyed.
      void reply.header('connection', 'close');
      throw error instanceof PayloadTooLargeError ? error : new PayloadTooLargeError(maxBytes);
    }
  };

  // Raw content for `PUT /files/:id/content`: handed over as a stream, never buffered.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  /** Refuses an upload whose declared size is already too large, before reading any of it. */
  const rejectDeclaredOversize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const declared = declaredBytes(request);
    if (declared !== undefined && declared > maxBytes + MULTIPART_OVERHEAD) {
      void reply.header('connection', 'close');
      throw new PayloadTooLargeError(maxBytes);
    }
  };

  app.post(
    '/files',
    {
      preValidation: rejectDeclaredOversize,
      schema: {
        tags: ['files'],
        summary: 'Upload a file',
        description:
          'multipart/form-data: field `file` (required); optional `filename` (overrides the part\'s name), `doc_id`, ' +
          '`collections` and `labels` (JSON arrays of strings) and `metadata` (a JSON object).',
        consumes: ['multipart/form-data'],
        response: { 201: FileSchema, ...errorResponses(400, 401, 413) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new BadRequestError('expected a multipart/form-data body with a `file` field');
      const fields = new Map<string, string>();
      let staged: StagedBlob | undefined;
      let upload: { filename: string } | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'file' || staged) {
              part.file.resume();
              throw new BadRequestError(`only one file part, named 'file', is accepted (got '${part.fieldname}')`);
            }
            upload = { filename: part.filename };
            staged = await stageLimited(part.file, request, reply);
          } else {
            fields.set(part.fieldname, fieldText(part));
          }
        }
        if (!staged || !upload) throw new BadRequestError("multipart field 'file' is required");
        const file = await files.createFromStaged(staged, uploadInput(fields, upload));
        staged = undefined;
        return reply.code(201).send(file);
      } finally {
        if (staged) await files.discard(staged);
      }
    },
  );

  app.get(
    '/files',
    {
      schema: {
        tags: ['files'],
        summary: 'List files: newest first, or sorted by name, size, modified or type (a page at a time)',
        querystring: FileListQuery,
        response: { 200: FileListResponse, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.offset !== undefined && q.cursor !== undefined) throw new BadRequestError('offset and cursor cannot be used together');
      const page = files.list({
        ...(q.collection !== undefined && { collection: q.collection }),
        ...(q.label !== undefined && { label: q.label }),
        ...(q.doc_id !== undefined && { docId: q.doc_id }),
        ...(q.q !== undefined && { q: q.q }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
        ...(q.offset !== undefined && { offset: q.offset }),
        ...(q.sort !== undefined && { sort: q.sort, order: q.order ?? 'asc' }),
        includeDeleted: q.include_deleted ?? false,
        limit: q.limit ?? 50,
      });
      return { files: page.files, total: page.total, next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/files/:id',
    {
      schema: {
        tags: ['files'],
        summary: "A file's metadata",
        params: FileIdParams,
        querystring: Type.Object({ include_deleted: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: FileSchema, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => files.get(request.params.id, request.query.include_deleted ?? false),
  );

  app.get(
    '/files/:id/content',
    {
      schema: {
        tags: ['files'],
        summary: "A file's content (ETag = content hash; single byte ranges)",
        params: FileIdParams,
        response: errorResponses(400, 401, 404, 416),
      },
    },
    async (request, reply) => {
      const file = files.get(request.params.id);
      const etag = `"${file.hash}"`;
      void reply.header('ETag', etag).header('Accept-Ranges', 'bytes').header('Cache-Control', 'private, no-cache');
      const notModified = etagMatches(request.headers['if-none-match'], etag);
      const range = notModified ? undefined : requestedRange(request, file.size, etag);
      if (range === 'unsatisfiable') {
        return reply.code(416).header('Content-Range', `bytes */${file.size}`).send({
          error: 'range_not_satisfiable',
          message: `Range '${request.headers.range}' is outside the content (${file.size} bytes)`,
          statusCode: 416,
        });
      }
      // Type and disposition come from the filename, never from the stored `mime_type` (README.md#security).
      // Set on a 304 too: a browser merges its headers into the cached answer (a framed preview stays framable).
      applyContentPolicy(reply, file.filename);
      if (notModified) return reply.code(304).send(null as never);
      if (range) {
        void reply
          .code(206)
          .header('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`)
          .header('Content-Length', range.end - range.start + 1);
        return reply.send(files.openContent(file, range) as never);
      }
      void reply.header('Content-Length', file.size);
      return reply.send(files.openContent(file) as never);
    },
  );

  app.put(
    '/files/:id/content',
    {
      preValidation: rejectDeclaredOversize,
      schema: {
        tags: ['files'],
        summary: 'Replace content: same stable_id, new hash',
        description: 'Body: the raw bytes (application/octet-stream), or multipart/form-data with a `file` field.',
        consumes: ['application/octet-stream', 'multipart/form-data'],
        params: FileIdParams,
        response: { 200: FileSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (request, reply) => {
      files.get(request.params.id);
      const body = await contentStream(request);
      const staged = await stageLimited(body.stream, request, reply);
      // A multipart file part over the limit is cut off at it, not failed: never store the cut-off bytes.
      if (body.truncated()) {
        await files.discard(staged);
        throw new PayloadTooLargeError(maxBytes);
      }
      return files.replaceContentFromStaged(request.params.id, staged);
    },
  );

  app.patch(
    '/files/:id',
    {
      schema: {
        tags: ['files'],
        summary: 'Change metadata only (no content transfer on sync)',
        params: FileIdParams,
        body: MetadataPatchBody,
        response: { 200: FileSchema, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => files.updateMetadata(request.params.id, request.body),
  );

  app.delete(
    '/files/:id',
    {
      schema: {
        tags: ['files'],
        summary: 'Delete (a tombstone the sync propagates)',
        params: FileIdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      files.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );
};

/**
 * The body of a content replacement: raw bytes, or the `file` part of a multipart body, and whether
 * that part was cut off at the upload limit (multipart's `fileSize` ends the stream there quietly).
 */
async function contentStream(request: FastifyRequest): Promise<{ stream: Readable; truncated: () => boolean }> {
  if (request.isMultipart()) {
    const part: MultipartFile | undefined = await request.file();
    if (!part || part.fieldname !== 'file') throw new BadRequestError("multipart field 'file' is required");
    return { stream: part.file, truncated: () => part.file.truncated };
  }
  const body = request.body as Readable | undefined;
  if (!body || typeof (body as Readable).pipe !== 'function') {
    throw new BadRequestError('expected the new content as application/octet-stream or multipart/form-data');
  }
  // Staged through a PassThrough: a refused upload (over the limit) destroys that, and the request
  // stream is only unpiped. Destroying the request itself counts as the client aborting, and an
  // injected request (light-my-request, Node 24) then never gets its 413.
  return { stream: body.pipe(new PassThrough()), truncated: () => false };
}

function fieldText(part: MultipartValue): string {
  if (!UPLOAD_FIELDS.has(part.fieldname)) {
    throw new BadRequestError(`unknown field '${part.fieldname}' (accepted: file, ${[...UPLOAD_FIELDS].join(', ')})`);
  }
  return String(part.value);
}

function uploadInput(fields: Map<string, string>, upload: { filename: string }): NewFileInput {
  // Browsers percent-encode `"`, CR and LF in a part's filename (HTML spec): a `filename` field, when
  // sent, carries the name exactly.
  const filename = fields.get('filename') ?? upload.filename;
  if (!filename) throw new BadRequestError("the 'file' part needs a filename");
  const input: NewFileInput = { filename };
  const docId = fields.get('doc_id');
  if (docId !== undefined) input.docId = docId;
  const collections = fields.get('collections');
  if (collections !== undefined) input.collections = jsonStringArray('collections', collections);
  const labels = fields.get('labels');
  if (labels !== undefined) input.labels = jsonStringArray('labels', labels);
  const metadata = fields.get('metadata');
  if (metadata !== undefined) input.metadata = jsonObject('metadata', metadata);
  return input;
}

function parseJson(field: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError(`${field} must be valid JSON`);
  }
}

function jsonStringArray(field: string, text: string): string[] {
  const value = parseJson(field, text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new BadRequestError(`${field} must be a JSON array of strings, e.g. ["thesis"]`);
  }
  return value;
}

function jsonObject(field: string, text: string): Record<string, unknown> {
  const value = parseJson(field, text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestError(`${field} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** One byte range, `undefined` for the whole content (no, malformed or multi-range header), or unsatisfiable. */
function requestedRange(
  request: FastifyRequest,
  size: number,
  etag: string,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const header = request.headers.range;
  if (!header) return undefined;
  const ifRange = request.headers['if-range'];
  if (typeof ifRange === 'string' && ifRange.trim() !== etag) return undefined;
  const ranges = parseRange(size, header, { combine: true });
  if (ranges === -1) return 'unsatisfiable';
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
  return { start: ranges[0]!.start, end: ranges[0]!.end };
}

/** The request body's Content-Length, when it states one. */
function declaredBytes(request: FastifyRequest): number | undefined {
  const declared = Number(request.headers['content-length']);
  return Number.isFinite(declared) ? declared : undefined;
}
