import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Docsync } from '../../docsync.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { errorResponses, LoginBody } from '../schemas.ts';

export const authRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in: sets the sessionId cookie and returns the session id',
        body: LoginBody,
        response: {
          200: Type.Object({ sessionId: Type.String(), username: Type.String(), expires_at: Type.String() }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const { sessionId, username, expiresAt } = await docsync.auth.login(request.body.username, request.body.password);
      void reply.setCookie(SESSION_COOKIE, sessionId, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: request.protocol === 'https',
        expires: new Date(expiresAt),
      });
      return { sessionId, username, expires_at: expiresAt };
    },
  );

  app.post(
    '/auth/logout',
    { schema: { tags: ['auth'], summary: 'End this session', response: { 204: Type.Null(), ...errorResponses(401) } } },
    async (request, reply) => {
      if (request.sessionId) docsync.auth.logout(request.sessionId);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who this session belongs to',
        response: { 200: Type.Object({ username: Type.String() }), ...errorResponses(401) },
      },
    },
    async (request) => ({ username: request.principal!.username }),
  );
};
