import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { SseHub } from '../../sse/sse-hub.ts';
import { errorResponses } from '../schemas.ts';

/** The key events are addressed by: a digest of the session id (tokens: per user). Never the secret itself. */
export function sessionKeyOf(sessionId: string | undefined, userId: number): string {
  return sessionId ? createHash('sha256').update(sessionId).digest('hex') : `token-user-${userId}`;
}

export function requestSessionKey(request: FastifyRequest): string {
  return sessionKeyOf(request.sessionId, request.principal!.userId);
}

export const sseRoutes: FastifyPluginAsyncTypebox<{ hub: SseHub }> = async (app, { hub }) => {
  app.get(
    '/sse/subscribe',
    {
      schema: {
        tags: ['sse'],
        summary: 'Server-Sent Events: sync progress, messages, completion, conflicts, file changes',
        description:
          'text/event-stream. Events: connected, syncProgress, syncMessage, syncComplete, syncError, conflict, ' +
          'fileDataChanged, syncStatus (the background status check saw a change), missed. Every event has an id; reconnect with Last-Event-ID (or ?last_event_id=) to replay.',
        querystring: Type.Object(
          {
            client_id: Type.Optional(Type.String({ maxLength: 64 })),
            last_event_id: Type.Optional(Type.Integer({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
        response: errorResponses(400, 401),
      },
    },
    (request, reply) => {
      const header = Number(request.headers['last-event-id']);
      const lastEventId = Number.isInteger(header) && header >= 0 ? header : request.query.last_event_id;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx in front of docsync would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      const client = hub.connect(res, requestSessionKey(request), lastEventId, request.query.client_id);
      request.raw.on('close', () => hub.disconnect(client));
    },
  );
};
