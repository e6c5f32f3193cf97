import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, storageErrorOf } from '../errors.ts';

/**
 * One error handler: AppErrors keep their status and message, validation and other client errors
 * become 4xx with Fastify's message (which names the field), and anything else is a 500 whose
 * details go to the log, never to the client. Raw storage errors (a full disk, a corrupt database)
 * become 507/503 with a message that says what to do; `noteStorageError` also tells `/health`.
 */
export function installErrorHandler(
  app: FastifyInstance,
  noteStorageError: (error: unknown) => AppError | undefined = storageErrorOf,
): void {
  app.setErrorHandler((raw: FastifyError | AppError, request, reply) => {
    let status: number;
    let code: string;
    let message: string;
    const error = raw instanceof AppError ? raw : (noteStorageError(raw) ?? raw);
    if (error instanceof AppError) {
      status = error.status;
      code = error.code;
      message = error.message;
    } else if ('validation' in error && error.validation) {
      status = 400;
      code = 'bad_request';
      message = error.message;
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      code = error.code ?? 'bad_request';
      message = error.message;
    } else {
      status = 500;
      code = 'internal';
      message = 'Internal server error';
    }
    if (status >= 500) request.log.error({ err: raw }, 'request failed');
    // Stop a client that is still streaming a body we refused, instead of reading it to the end.
    if (status === 413 || status === 507) void reply.header('Connection', 'close');
    const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === 'number') void reply.header('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
    void reply.status(status).send({ error: code, message, statusCode: status });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: 'not_found',
      message: `Route ${request.method} ${request.url.split('?')[0]} not found`,
      statusCode: 404,
    });
  });
}
